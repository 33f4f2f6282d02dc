import { type ChildProcess, spawn } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import * as PackageRoot from "../PackageRoot.ts"
import { processGlobal } from "../ProcessGlobal.ts"
import { HEAP_GROWING_PERCENT_ENV } from "../RuntimeV8Flags.ts"

/**
 * The local backend's worker processes: how they are started, and the ones started ahead
 * of a run. This module loads nothing but Node's own: the `zephyr` command starts workers
 * through it before it loads the engine.
 */

/** The program worker processes run: the built engine, without the command-line parser. */
const program = path.join(PackageRoot.dist, "worker.js")

/**
 * A worker's V8 heap: the shuffle's budget (it spills past it) plus room for the engine and
 * the user's own state. Left to itself V8 grows the heap long before it collects, and a
 * worker's resident memory ends up hundreds of MB over its budget; with the limit it
 * collects instead. State bigger than that (a large `Shared` value, a model in `layer`)
 * needs a bigger `memoryBudget`.
 */
export const heapMegabytes = (memoryBudgetBytes: number): number =>
  Math.max(256, Math.ceil(memoryBudgetBytes / 2 ** 20) + 128)

/**
 * A worker's young generation: below a 256 MiB budget, a semi-space of a sixteenth of the
 * budget (at least 1 MiB) instead of V8's 16 MiB, so that a small budget's resident memory is
 * not young garbage (the memory bench, a 64MB budget: peak RSS 211 MB with V8's, 178 MB with
 * 4 MiB, in the same time). Undefined: V8's own.
 */
export const semiSpaceMegabytes = (memoryBudgetBytes: number): number | undefined => {
  const mb = Math.max(1, Math.floor(memoryBudgetBytes / 2 ** 20 / 16))
  return mb < 16 ? mb : undefined
}

/**
 * How far a worker process's old generation grows past its live size before V8 collects it
 * in full, from the memory budget (V8's `--heap-growing-percent`), for `heapEnvironment`.
 *
 * Why: V8 picks that factor from the heap's limit, and a worker's limit is small on purpose
 * (`heapMegabytes`: the budget plus 128 MiB). For the default budget's 384 MiB, V8 chooses
 * 1.35x: a streaming stage, whose rows live just long enough to be promoted, then ran a full
 * collection every 150–250 ms, 6–10 per 4 input files where a plain Node script runs one,
 * and spent about a fifth of its CPU in the collector (map → filter → write, 8 files, 2
 * workers, 6 alternating runs: 2.4–2.6 s and 4.6–4.9 s of CPU, against 1.8–2.2 s and
 * 3.4–4.1 s with 4x, V8's own factor for large heaps). The heap's limit still holds, and V8
 * never lets the next collection wait past halfway from the live size to the limit, so a
 * full shuffle behaves as before.
 *
 * The factor is the budget over 64 MiB, at most 4x; below a 128 MiB budget V8 keeps its own,
 * since the room over the budget (150 MB of resident memory) is then mostly taken by the
 * engine itself (a 64 MiB budget with 4x: peak RSS 261 MB, over its 214 MB).
 */
export const heapGrowingPercent = (memoryBudgetBytes: number): number | undefined => {
  const factor = Math.min(4, memoryBudgetBytes / 2 ** 20 / 64)
  return factor >= 2 ? Math.round((factor - 1) * 100) : undefined
}

/**
 * The V8 flags that size a worker's heap, for the command line that starts Node or for
 * NODE_OPTIONS (how a Kubernetes pod gets them); every launcher gives them. The worker sets
 * them back to V8's defaults once its heap is made (RuntimeV8Flags.settleHeapSizes).
 */
export const heapFlags = (memoryBudgetBytes: number): Array<string> => {
  const semi = semiSpaceMegabytes(memoryBudgetBytes)
  return [`--max-old-space-size=${heapMegabytes(memoryBudgetBytes)}`, ...(semi === undefined ? [] : [`--max-semi-space-size=${semi}`])]
}

/**
 * The environment that gives a worker its heap's growth (`heapGrowingPercent`), which it sets
 * on itself once it has loaded the engine (RuntimeV8Flags.applyHeapGrowth); every launcher
 * gives it. On the command line the flag would change V8's flag hash from the start, and Node
 * would then compile its own modules from source instead of from the code cache it carries.
 */
export const heapEnvironment = (memoryBudgetBytes: number): Record<string, string> =>
  // Empty for V8's own growth: not the driver's value, should its environment have one.
  ({ [HEAP_GROWING_PERCENT_ENV]: String(heapGrowingPercent(memoryBudgetBytes) ?? "") })

/**
 * How V8 optimises a local worker's hot code, from how many workers share the machine's
 * cores: when there is a worker per core or more, `--no-concurrent-recompilation`, so that
 * TurboFan compiles on the worker's own thread instead of on helper threads.
 *
 * Why: with every core running a worker, the helper threads can only run by taking a core
 * from a worker, and compiling there cost more in all: a worker of group-by-count spent
 * about 0.3 s of CPU on them (4 files, 140 TurboFan jobs, 0.38 s of compile time) and 0.07 s
 * with the flag (107 jobs, 0.22 s, no job abandoned half-way because the running code
 * changed what it had assumed). 2 workers on 2 cores, 6 alternating runs: group-by-count
 * 1.37-1.49 s instead of 1.45-1.67, map → filter → write 1.49-1.68 s instead of 1.55-1.70.
 * With a core to spare, the helper threads are free: one worker on 2 cores was 0.15 s slower
 * with the flag (1.77-1.91 s against 1.60-1.76), so it does not get it. Workers started
 * ahead of a run (`prestart`) count the command line's `--workers`, before the plan says
 * how many shards there are: a run of fewer shards than cores takes them as they are.
 */
export const compilerFlags = (poolSize: number, cores: number = os.availableParallelism?.() ?? os.cpus().length): Array<string> =>
  poolSize >= cores ? ["--no-concurrent-recompilation"] : []

/** Local workers get their run's token on stdin; the driver's own (for external workers) stays with it. */
const inheritedEnv = (): NodeJS.ProcessEnv => {
  const { ZEPHYR_TOKEN: _, ...rest } = process.env
  return rest
}

/**
 * How a worker process that ran out of memory ends: V8 prints "Reached heap limit ...
 * JavaScript heap out of memory" and aborts (SIGABRT; exit code 134 through a shell).
 */
export const isOutOfMemoryExit = (code: number | null, signal: NodeJS.Signals | null): boolean =>
  signal === "SIGABRT" || code === 134

export const isOutOfMemoryMessage = (line: string): boolean =>
  line.includes("JavaScript heap out of memory") || line.includes("Reached heap limit")

/** Starts a local worker process, one of a pool of `poolSize` (see `compilerFlags`). */
export const spawnWorker = (env: Readonly<Record<string, string>>, preload: string | undefined, memoryBudgetBytes: number, poolSize: number): ChildProcess =>
  spawn(process.execPath, [...heapFlags(memoryBudgetBytes), ...compilerFlags(poolSize), program], {
    stdio: ["pipe", "ignore", "pipe"],
    env: { ...inheritedEnv(), ...heapEnvironment(memoryBudgetBytes), ...env, ZEPHYR_DRIVER_PID: String(process.pid), ...(preload ? { ZEPHYR_PRELOAD_MODULE: preload } : {}) }
  })

/** Processes started ahead of a run (by dist/early-workers.js, see ProcessGlobal), waiting for their coordinator (see `prestart`). */
const ahead = processGlobal("WorkerProcesses/prestarted", (): { current: { readonly modulePath: string; readonly heap: number; readonly children: Array<ChildProcess> } | undefined } => ({ current: undefined }))

const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null

/**
 * Starts `count` worker processes now, before the plan is known: each loads the engine and
 * imports the pipeline module while the driver does the same, so a run does not wait for
 * two process start-ups in a row. The next local pool for that module takes them; the rest
 * are stopped by `releasePrestarted` (and exit by themselves when the driver exits).
 * Processes already started for the same module and heap are kept.
 */
export const prestart = (count: number, modulePath: string, memoryBudgetBytes: number): void => {
  const heap = heapMegabytes(memoryBudgetBytes)
  const kept = ahead.current && ahead.current.modulePath === modulePath && ahead.current.heap === heap ? ahead.current.children.filter(running) : []
  if (ahead.current) for (const child of ahead.current.children) if (!kept.includes(child)) child.kill("SIGKILL")
  for (const child of kept.splice(count)) child.kill("SIGKILL")
  while (kept.length < count) {
    const child = spawnWorker({}, modulePath, memoryBudgetBytes, count)
    child.on("error", () => undefined)
    kept.push(child)
  }
  ahead.current = { modulePath, heap, children: kept }
}

/** Stops prestarted processes no pool took. */
export const releasePrestarted = (): void => {
  for (const child of ahead.current?.children ?? []) child.kill("SIGKILL")
  ahead.current = undefined
}

export const takePrestarted = (modulePath: string | undefined): ChildProcess | undefined => {
  if (!ahead.current || ahead.current.modulePath !== modulePath) return undefined
  for (let child = ahead.current.children.shift(); child; child = ahead.current.children.shift()) {
    if (running(child)) return child
  }
  return undefined
}
