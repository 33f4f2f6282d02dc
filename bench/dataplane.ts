/**
 * Data-plane benchmark: whole `zephyr run` commands on ~100 MiB of generated data in 8
 * files (2 workers, default options), next to a hand-written single-process Node script
 * and DuckDB running the same query on the same files. Runs alternate between the
 * contenders; medians and ratios are reported, with Zephyr's time also net of start-up
 * (the median of a no-op run's wall time).
 *
 *   npx tsx bench/dataplane.ts [--mb 100] [--runs 3] [--workloads groupByCount,wordcount,...]
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Data from "./DataplaneData.ts"

export type Workload = "mapFilterWrite" | "groupByCount" | "dedup" | "wordcount" | "cpuMap"
export const workloads: ReadonlyArray<Workload> = ["mapFilterWrite", "groupByCount", "dedup", "wordcount", "cpuMap"]

export interface WorkloadResult {
  readonly workload: Workload
  /** Median wall seconds per contender ("zephyr-2w", "zephyr-1w", "node", "duckdb"). */
  readonly seconds: Record<string, number>
  /** Zephyr's median net of the no-op run's median. */
  readonly netSeconds: Record<string, number>
  readonly ratios: Record<string, number>
}

export interface DataplaneResult {
  readonly inputBytes: number
  readonly startupSeconds: number
  readonly results: ReadonlyArray<WorkloadResult>
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const timed = (args: ReadonlyArray<string>): number => {
  const t0 = performance.now()
  execFileSync(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] })
  return (performance.now() - t0) / 1000
}

const zephyr = (workload: Workload | "noop", workers: number, input: string, out: string): number => {
  fs.rmSync(out, { recursive: true, force: true })
  const module = workload === "wordcount" ? "examples/wordcount.ts" : "bench/DataplanePipelines.ts"
  // Until workers resolve the default shard count like the driver (issue 8), pass it explicitly: 8 files, 8 shards.
  const shards = workload === "wordcount" || workload === "groupByCount" || workload === "dedup" ? ["--arg", "shards=8"] : []
  return timed(["bin/zephyr.js", "run", module, ...(workload === "wordcount" ? [] : ["--export", workload]), "--workers", String(workers), "--no-progress",
    "--arg", `input=${input}`, "--arg", `out=${out}`, ...shards])
}

export const run = (options: { readonly mb?: number; readonly runs?: number; readonly workloads?: ReadonlyArray<Workload> } = {}): DataplaneResult => {
  const mb = options.mb ?? 100
  const runs = options.runs ?? 3
  const events = Data.jsonl(mb, 8)
  const text = Data.text(mb, 8)
  const work = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-bench-dataplane-"))
  try {
    const noop: Array<number> = []
    for (let i = 0; i < runs; i++) noop.push(zephyr("noop", 2, events.glob, path.join(work, "noop")))
    const startup = median(noop)
    const results: Array<WorkloadResult> = []
    for (const w of options.workloads ?? workloads) {
      const data = w === "wordcount" ? text : events
      const samples: Record<string, Array<number>> = {}
      const add = (k: string, s: number) => (samples[k] ??= []).push(s)
      for (let i = 0; i < runs; i++) {
        add("zephyr-2w", zephyr(w, 2, data.glob, path.join(work, "z")))
        if (w === "cpuMap") add("zephyr-1w", zephyr(w, 1, data.glob, path.join(work, "z")))
        add("node", timed(["bench/baseline-node.mjs", w, path.join(work, "node.out"), ...data.files]))
        if (w !== "cpuMap") add("duckdb", timed(["bench/baseline-duckdb.mjs", w, path.join(work, "duck.out"), data.glob]))
      }
      const seconds: Record<string, number> = {}
      const netSeconds: Record<string, number> = {}
      for (const [k, xs] of Object.entries(samples)) {
        seconds[k] = median(xs)
        if (k.startsWith("zephyr")) netSeconds[k] = Math.max(0, seconds[k]! - startup)
      }
      const z = seconds["zephyr-2w"]!
      const ratios: Record<string, number> = { "zephyr/node": z / seconds.node! }
      if (seconds.duckdb !== undefined) ratios["zephyr/duckdb"] = z / seconds.duckdb
      if (seconds["zephyr-1w"] !== undefined) ratios["speedup 1w->2w"] = seconds["zephyr-1w"] / z
      if (seconds["zephyr-1w"] !== undefined) ratios["net speedup 1w->2w"] = netSeconds["zephyr-1w"]! / netSeconds["zephyr-2w"]!
      results.push({ workload: w, seconds, netSeconds, ratios })
      console.error(JSON.stringify({ bench: "dataplane", workload: w, seconds, netSeconds, ratios }))
    }
    return { inputBytes: events.bytes, startupSeconds: startup, results }
  } finally {
    fs.rmSync(work, { recursive: true, force: true })
  }
}

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = run({
    mb: Number(flag("mb") ?? 100),
    runs: Number(flag("runs") ?? 3),
    workloads: (flag("workloads")?.split(",") as Array<Workload> | undefined) ?? workloads
  })
  console.log(JSON.stringify({ bench: "dataplane", ...r }))
}
