/**
 * Peak RSS of every process of a `zephyr run` (driver and workers), sampled from
 * /proc/<pid>/status (VmHWM, the kernel's own high-water mark) while the run goes on.
 * The groupBy's input is 4x the memory budget; the target is every worker's peak RSS
 * <= budget + 150 MB.
 *
 *   npx tsx bench/memory.ts [--mb 100] [--budget-mb 25] [--workers 2]
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Data from "./DataplaneData.ts"

export interface MemoryResult {
  readonly workload: string
  readonly inputBytes: number
  readonly budgetBytes: number
  readonly seconds: number
  /** Peak RSS per process, by role ("driver" or the worker's id). */
  readonly peakRss: Record<string, number>
  readonly maxWorkerPeakRss: number
  readonly withinTarget: boolean
  readonly counters: Record<string, number>
}

const children = (pid: number): Array<number> => {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number)
  } catch { return [] }
}
const peakOf = (pid: number): number | undefined => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) * 1024 : undefined
  } catch { return undefined }
}
const cmdline = (pid: number): string => {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ") } catch { return "" }
}

export const measure = async (options: { readonly mb?: number; readonly budgetMb?: number; readonly workers?: number; readonly workload?: string } = {}): Promise<MemoryResult> => {
  const data = Data.jsonl(options.mb ?? 100, 8)
  const budget = (options.budgetMb ?? 25) * 1024 * 1024
  const workload = options.workload ?? "groupByAll"
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-bench-memory-"))
  const t0 = performance.now()
  const child = spawn(process.execPath, ["bin/zephyr.js", "run", "bench/DataplanePipelines.ts", "--export", workload, "--workers", String(options.workers ?? 2),
    "--memory-budget", `${budget}`, "--no-progress", "--arg", `input=${data.glob}`, "--arg", `out=${out}`, "--arg", "shards=8"], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr.on("data", (d) => { stderr += d })
  const peaks = new Map<number, { role: string; peak: number }>()
  const sample = () => {
    const stack = [child.pid!]
    while (stack.length > 0) {
      const pid = stack.pop()!
      const peak = peakOf(pid)
      if (peak !== undefined) {
        const known = peaks.get(pid)
        if (known) known.peak = Math.max(known.peak, peak)
        else {
          const cmd = cmdline(pid)
          const id = /--worker-id (\S+)/.exec(cmd)?.[1]
          peaks.set(pid, { role: id ?? (pid === child.pid ? "driver" : `pid ${pid}`), peak })
        }
      }
      stack.push(...children(pid))
    }
  }
  const timer = setInterval(sample, 25)
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
  clearInterval(timer)
  const seconds = (performance.now() - t0) / 1000
  fs.rmSync(out, { recursive: true, force: true })
  if (code !== 0) throw new Error(`zephyr run failed (${code}):\n${stderr}`)
  const peakRss: Record<string, number> = {}
  let maxWorker = 0
  for (const { role, peak } of peaks.values()) {
    peakRss[role] = peak
    if (role !== "driver") maxWorker = Math.max(maxWorker, peak)
  }
  return { workload, inputBytes: data.bytes, budgetBytes: budget, seconds, peakRss, maxWorkerPeakRss: maxWorker, withinTarget: maxWorker <= budget + 150 * 1024 * 1024, counters: {} }
}

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await measure({ mb: Number(flag("mb") ?? 100), budgetMb: Number(flag("budget-mb") ?? 25), workers: Number(flag("workers") ?? 2), workload: flag("workload") ?? "groupByAll" })
  console.log(JSON.stringify({ bench: "memory", ...r }))
}
