/**
 * The two kinds of contender the data workloads use: a whole `zephyr run` command as a
 * user types it, and a baseline script under bench/baselines/. Each writes into a fresh
 * output folder, which is digested (the answer) and removed.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Processes from "./Processes.ts"
import type * as Workload from "./Workload.ts"

/** An empty output folder for one run of one contender. */
export const outputDir = (context: Workload.Context, workload: string, contender: string): string => {
  const dir = path.join(context.scratch, workload, contender.replace(/[^a-zA-Z0-9.-]+/g, "_"))
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

/**
 * How a worker process started by the local launcher shows in `ps`: `node .../zephyr.js
 * worker ...` or `node .../dist/worker.js ...` (the driver's other descendants, such as
 * tsx's esbuild service, do not say "worker").
 */
const workerCommand = /\bworker\b/

export interface ZephyrRun {
  readonly name: string
  /** The pipeline module, relative to the repository. */
  readonly module: string
  readonly workers: number
  /** `--arg k=v` pairs; `out` is added. */
  readonly args: Readonly<Record<string, string>>
  readonly flags?: ReadonlyArray<string> | undefined
  /** Samples the workers' peak RSS. */
  readonly watchWorkers?: boolean | undefined
}

/** The argv of `zephyr run` after `node`. */
export const zephyrArgv = (module: string, workers: number, args: Readonly<Record<string, string>>, flags: ReadonlyArray<string> = []): Array<string> => [
  "bin/zephyr.js", "run", module, "--workers", String(workers), "--no-progress",
  ...Object.entries(args).flatMap(([k, v]) => ["--arg", `${k}=${v}`]),
  ...flags
]

export const zephyr = (
  context: Workload.Context,
  workload: string,
  run: ZephyrRun,
  answer: (outputDir: string) => unknown
): Workload.Contender => ({
  name: run.name,
  zephyr: true,
  run: async () => {
    const out = outputDir(context, workload, run.name)
    const finished = await Processes.node(zephyrArgv(run.module, run.workers, { ...run.args, out }, run.flags), {
      cwd: context.repo,
      watch: run.watchWorkers ? workerCommand : undefined
    })
    const result = answer(out)
    fs.rmSync(out, { recursive: true, force: true })
    const peaks = [...finished.peakRssMB.values()]
    // no worker found would read as a tiny peak: fail instead
    if (run.watchWorkers && peaks.length === 0) throw new Error(`no worker process (command line matching ${workerCommand}) was seen below the driver: the launcher changed how it starts workers; update bench/Contenders.ts`)
    return {
      seconds: finished.seconds,
      answer: result,
      ...(run.watchWorkers ? { detail: { workers: peaks.length, maxWorkerPeakRssMB: Math.round(Math.max(0, ...peaks)), workerPeakRssMB: peaks.map((p) => Math.round(p)).join(" ") } } : {})
    }
  }
})

/** A baseline: `node bench/baselines/<script> <args(out)...>`. */
export const baseline = (
  context: Workload.Context,
  workload: string,
  name: string,
  script: string,
  args: (outputDir: string) => ReadonlyArray<string>,
  answer: (outputDir: string) => unknown
): Workload.Contender => ({
  name,
  zephyr: false,
  run: async () => {
    const out = outputDir(context, workload, name)
    const finished = await Processes.node([path.join("bench/baselines", script), ...args(out)], { cwd: context.repo })
    const result = answer(out)
    fs.rmSync(out, { recursive: true, force: true })
    return { seconds: finished.seconds, answer: result }
  }
})
