/**
 * How results are shown: a plain-text table for the terminal, and bench/RESULTS.md
 * (dated, with the machine) for the repository.
 */
import * as os from "node:os"
import * as Workload from "./Workload.ts"

export interface Outcome {
  readonly workload: Workload.Workload
  readonly results: Workload.Results
  /** The untimed warm-up runs of each contender (seconds), shown apart from the rounds. */
  readonly warmups: ReadonlyMap<string, ReadonlyArray<number>>
  readonly targets: ReadonlyArray<Workload.Target>
  /** Contenders that failed or were skipped, with why. */
  readonly problems: ReadonlyArray<{ readonly contender: string; readonly problem: string }>
  /** Set when two answers differed: the bench fails. */
  readonly disagreement?: string | undefined
}

export const machine = (): string => {
  const cpus = os.cpus()
  return `${cpus.length} x ${cpus[0]?.model ?? "unknown CPU"}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, ` +
    `${os.type()} ${os.release()}, Node ${process.version}`
}

const fixed = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : "-")

const formatValue = (t: Workload.Target): string =>
  t.unit === "s" ? `${fixed(t.value)} s` : t.unit === "/s" ? `${fixed(t.value, 0)}/s` : t.unit === "MB" ? `${fixed(t.value, 0)} MB` : t.unit === "ms" ? `${fixed(t.value, 0)} ms` : t.unit === "" ? fixed(t.value, 0) : `${fixed(t.value)}x`

const formatLimit = (t: Workload.Target): string =>
  `${t.atMost ? "≤" : "≥"} ${t.unit === "s" ? `${t.limit} s` : t.unit === "/s" ? `${t.limit}/s` : t.unit === "MB" ? `${t.limit} MB` : t.unit === "ms" ? `${t.limit} ms` : t.unit === "" ? `${t.limit}` : `${t.limit}x`}`

/** The median of the first Zephyr contender over each baseline's, e.g. "5.60x". */
const ratioToZephyr = (o: Outcome, contender: Workload.Contender): string => {
  if (contender.zephyr) return ""
  const zephyr = o.workload.contenders.find((c) => c.zephyr)
  if (!zephyr) return ""
  const r = Workload.seconds(o.results, zephyr.name) / Workload.seconds(o.results, contender.name)
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : ""
}

const details = (ms: ReadonlyArray<Workload.Measurement>): string => {
  const last = ms[ms.length - 1]?.detail
  return last ? Object.entries(last).map(([k, v]) => `${k} ${v}`).join(", ") : ""
}

const rows = (o: Outcome): Array<Array<string>> =>
  o.workload.contenders.map((c) => {
    const ms = o.results.get(c.name) ?? []
    const problem = o.problems.find((p) => p.contender === c.name)?.problem
    return [
      c.name,
      (o.warmups.get(c.name) ?? []).map((s) => s.toFixed(2)).join(" "),
      ms.map((m) => m.seconds.toFixed(2)).join(" "),
      fixed(Workload.seconds(o.results, c.name)),
      ratioToZephyr(o, c),
      problem ? `${c.skipped ? "skipped" : "FAILED"}: ${problem.split("\n")[0]!.slice(0, 160)}` : details(ms)
    ]
  })

const HEADER = ["contender", "warm-up (s)", "runs (s)", "median (s)", "Zephyr / this", "notes"]

/** The terminal table of one workload. */
export const text = (o: Outcome): string => {
  const all = [HEADER, ...rows(o)]
  const widths = HEADER.map((_, i) => Math.max(...all.map((r) => r[i]!.length)))
  const line = (r: ReadonlyArray<string>) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()
  const targets = o.targets.map((t) => `  target ${t.name}: ${formatValue(t)} (${formatLimit(t)}) ${Workload.passes(t) ? "PASS" : "MISS"}`)
  return [`== ${o.workload.title}`, ...all.map(line), ...targets, ...(o.disagreement ? [`  ANSWERS DIFFER: ${o.disagreement}`] : []), ""].join("\n")
}

const cell = (s: string) => s.replace(/\|/g, "\\|")

export const markdown = (outcomes: ReadonlyArray<Outcome>, options: { readonly date: Date; readonly command: string; readonly note?: string | undefined; readonly load: ReadonlyArray<number>; readonly warmup: number }): string => {
  const lines: Array<string> = [
    "# Benchmark results",
    "",
    `${options.date.toISOString().slice(0, 10)}, \`${options.command}\`${options.note ? `: ${options.note}` : ""}.`,
    "",
    `Machine: ${machine()}. Load average when the run started: ${options.load.map((l) => l.toFixed(1)).join(", ")}.`,
    "Every Zephyr figure is a whole command (start-up included); runs of the contenders alternate, round after round; medians.",
    ...(options.warmup > 0 ? [`Each contender first ran ${options.warmup === 1 ? "once" : `${options.warmup} times`} untimed (the warm-up column), as hyperfine's --warmup does.`] : []),
    "Written by `npm run bench -- --write-results`; see the Benchmarks section of README.md.",
    "",
    "## Targets",
    "",
    "| workload | target | value | limit | |",
    "|---|---|---|---|---|"
  ]
  for (const o of outcomes) {
    for (const t of o.targets) lines.push(`| ${o.workload.name} | ${cell(t.name)} | ${formatValue(t)} | ${formatLimit(t)} | ${Workload.passes(t) ? "pass" : "**miss**"} |`)
    if (o.disagreement) lines.push(`| ${o.workload.name} | answers agree | **no** | | **fail** |`)
  }
  for (const o of outcomes) {
    lines.push("", `## ${o.workload.title}`, "", `| ${HEADER.join(" | ")} |`, `|${HEADER.map(() => "---").join("|")}|`)
    for (const r of rows(o)) lines.push(`| ${r.map(cell).join(" | ")} |`)
  }
  return lines.join("\n") + "\n"
}
