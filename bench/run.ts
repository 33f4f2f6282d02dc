/**
 * `npm run bench`: every workload of the performance issue next to its baselines. Each
 * contender first runs `--warmup` times untimed (1 by default, as hyperfine's --warmup:
 * the first run after a boot or a build reads its input and the engine's code from disk
 * and fills the caches, which made the first contender's first round up to 50% slower than
 * its others); then runs of the contenders alternate (Zephyr, baseline, Zephyr, ...) for
 * `--rounds` rounds; medians
 * and ratios go to stderr as a table, and stdout gets one JSON line per measurement plus
 * one summary line per workload (targets, pass or miss). Answers that differ between
 * contenders fail the bench (exit code 1). Speed and memory targets are checked here,
 * never by timed assertions in tests.
 *
 *   npm run bench -- [--rounds 3] [--warmup 1] [--mb 100] [--only tasks,wordcount] [--write-results] [--note TEXT] [--explicit-shards]
 *   npm run bench -- --only scale --rounds 1     (the coordinator against 1,000 simulated workers)
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Report from "./Report.ts"
import * as Workload from "./Workload.ts"
import * as Startup from "./workloads/startup.ts"
import * as Checks from "./workloads/checks.ts"
import * as Tasks from "./workloads/tasks.ts"
import * as CpuMap from "./workloads/cpuMap.ts"
import * as GroupByCount from "./workloads/groupByCount.ts"
import * as MapFilterWrite from "./workloads/mapFilterWrite.ts"
import * as Dedup from "./workloads/dedup.ts"
import * as Wordcount from "./workloads/wordcount.ts"
import * as Memory from "./workloads/memory.ts"
import * as Scale from "./workloads/scale.ts"

const workloads: ReadonlyArray<{ readonly name: string; readonly make: Workload.Make }> = [Startup, Checks, Tasks, CpuMap, GroupByCount, MapFilterWrite, Dedup, Wordcount, Memory, Scale]

const argv = process.argv.slice(2)
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? argv[i + 1] : undefined
}
const known = new Set(["--rounds", "--warmup", "--mb", "--only", "--note", "--write-results", "--explicit-shards"])
for (let i = 0; i < argv.length; i++) {
  if (!known.has(argv[i]!)) {
    process.stderr.write(`Unknown option ${argv[i]}. Options: --rounds N, --warmup N, --mb N, --only ${workloads.map((w) => w.name).join(",")}, --write-results, --note TEXT, --explicit-shards\n`)
    process.exit(2)
  }
  if (!["--write-results", "--explicit-shards"].includes(argv[i]!)) i++
}
const rounds = Number(flag("rounds") ?? 3)
const warmup = Number(flag("warmup") ?? 1)
const mb = Number(flag("mb") ?? 100)
const only = flag("only")?.split(",").map((s) => s.trim()).filter((s) => s !== "")
const unknown = only?.filter((n) => !workloads.some((w) => w.name === n)) ?? []
if (!(rounds >= 1) || !(Number.isInteger(warmup) && warmup >= 0) || !(mb > 0) || unknown.length > 0) {
  process.stderr.write(`Bad option: --rounds must be ≥ 1, --warmup an integer ≥ 0, --mb > 0, --only among ${workloads.map((w) => w.name).join(", ")}${unknown.length ? ` (not: ${unknown.join(", ")})` : ""}\n`)
  process.exit(2)
}

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-bench-run-"))
const removeScratch = () => fs.rmSync(scratch, { recursive: true, force: true })
process.on("SIGINT", () => { removeScratch(); process.exit(130) })

const log = (line: string) => process.stderr.write(`${line}\n`)
const emit = (record: Record<string, unknown>) => process.stdout.write(JSON.stringify(record) + "\n")
const context: Workload.Context = { mb, rounds, repo, scratch, log, explicitShards: argv.includes("--explicit-shards") }
const startedAt = new Date()
const load = os.loadavg()
log(`zephyr bench: ${Report.machine()}; load average ${load.map((l) => l.toFixed(1)).join(" ")}; --mb ${mb} --rounds ${rounds} --warmup ${warmup}`)

const outcomes: Array<Report.Outcome> = []
try {
  for (const entry of workloads.filter((w) => !only || only.includes(w.name))) {
    log(`\n== ${entry.name}: preparing`)
    const workload = await entry.make(context)
    const results = new Map<string, Array<Workload.Measurement>>(workload.contenders.map((c) => [c.name, []]))
    const problems: Array<{ contender: string; problem: string }> = workload.contenders
      .filter((c) => c.skipped !== undefined).map((c) => ({ contender: c.name, problem: c.skipped! }))
    for (const p of problems) {
      log(`   ${p.contender}: skipped: ${p.problem}`)
      emit({ type: "skipped", workload: workload.name, contender: p.contender, reason: p.problem })
    }
    const warmups = new Map<string, Array<Workload.Measurement>>(workload.contenders.map((c) => [c.name, []]))
    // Rounds up to 0 are the warm-up: each contender in turn, untimed (its seconds are shown apart, its answers checked too).
    for (let round = 1 - warmup; round <= rounds; round++) {
      const label = round <= 0 ? "warm-up     " : `round ${round}/${rounds}`
      for (const c of workload.contenders) {
        if (problems.some((p) => p.contender === c.name)) continue
        try {
          const m = await c.run(round)
          if (round <= 0) {
            warmups.get(c.name)!.push(m)
            log(`   ${label}  ${c.name.padEnd(40)} ${m.seconds.toFixed(2)} s (not counted)`)
            emit({ type: "warmup", workload: workload.name, contender: c.name, seconds: Number(m.seconds.toFixed(3)) })
            continue
          }
          results.get(c.name)!.push(m)
          log(`   ${label}  ${c.name.padEnd(40)} ${m.seconds.toFixed(2)} s`)
          emit({ type: "measurement", workload: workload.name, contender: c.name, zephyr: c.zephyr, round, seconds: Number(m.seconds.toFixed(3)), ...(m.answer === undefined ? {} : { answer: m.answer }), ...(m.detail ? { detail: m.detail } : {}) })
        } catch (e) {
          const problem = e instanceof Error ? e.message : String(e)
          problems.push({ contender: c.name, problem })
          log(`   ${label}  ${c.name}: FAILED\n${problem}`)
          emit({ type: "error", workload: workload.name, contender: c.name, round, error: problem })
        }
      }
    }
    // every answer given, by any contender in any round, must be the same
    const answers = workload.contenders.flatMap((c) => [
      ...(warmups.get(c.name) ?? []).map((m) => ({ m, who: `${c.name}, warm-up` })),
      ...(results.get(c.name) ?? []).map((m, i) => ({ m, who: `${c.name}, round ${i + 1}` }))
    ].flatMap(({ m, who }) => m.answer === undefined ? [] : [{ who, answer: JSON.stringify(m.answer) }]))
    const odd = answers.find((a) => a.answer !== answers[0]!.answer)
    const disagreement = odd ? `${answers[0]!.who} computed ${answers[0]!.answer}, but ${odd.who} computed ${odd.answer}` : undefined
    const targets = Workload.measured(workload.targets(results))
    const outcome: Report.Outcome = { workload, results, warmups: new Map([...warmups].map(([name, ms]) => [name, ms.map((m) => m.seconds)])), targets, problems, disagreement }
    outcomes.push(outcome)
    log("\n" + Report.text(outcome))
    emit({
      type: "summary",
      workload: workload.name,
      medianSeconds: Object.fromEntries(workload.contenders.map((c) => [c.name, Number(Workload.seconds(results, c.name).toFixed(3))])),
      targets: targets.map((t) => ({ name: t.name, value: Number(t.value.toFixed(3)), unit: t.unit, limit: t.limit, atMost: t.atMost, pass: Workload.passes(t) })),
      // a workload without targets (dedup) only reports; a failed run or differing answers fail it
      pass: !disagreement && problems.every((p) => workload.contenders.find((c) => c.name === p.contender)?.skipped !== undefined) &&
        (targets.length === 0 ? null : targets.every(Workload.passes)),
      answersAgree: !disagreement,
      // other work on the machine skews everything: worth knowing when reading a number
      loadAverage1m: Number((os.loadavg()[0] ?? 0).toFixed(1)),
      answers: answers.length,
      problems
    })
  }
} finally {
  removeScratch()
}

log("\n" + outcomes.map(Report.text).join("\n"))
if (argv.includes("--write-results")) {
  const file = path.join(repo, "bench", "RESULTS.md")
  // the command that reproduces the numbers: without --write-results and the note
  const shown = argv.filter((a, i) => a !== "--write-results" && a !== "--note" && argv[i - 1] !== "--note")
  fs.writeFileSync(file, Report.markdown(outcomes, { date: startedAt, command: `npm run bench -- ${shown.join(" ")}`.trimEnd(), note: flag("note"), load, warmup }))
  log(`wrote ${path.relative(process.cwd(), file)}`)
}
const disagreements = outcomes.filter((o) => o.disagreement)
const failures = outcomes.flatMap((o) => o.problems.filter((p) => !o.workload.contenders.find((c) => c.name === p.contender)?.skipped).map((p) => `${o.workload.name} / ${p.contender}`))
if (disagreements.length > 0) log(`ANSWERS DIFFER in: ${disagreements.map((o) => o.workload.name).join(", ")}`)
if (failures.length > 0) log(`FAILED runs: ${failures.join(", ")}`)
process.exitCode = disagreements.length > 0 || failures.length > 0 ? 1 : 0
