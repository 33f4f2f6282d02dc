/**
 * The coordinator at scale, simulated: a REAL coordinator (the Coordinator service and the
 * TCP RPC server a run uses, on 127.0.0.1, with a token) in this process, and `workers`
 * simulated workers in `processes` child processes (SimulatedWorkers). It runs a map stage
 * of `mapShards` shards whose mappers each report a scatter index with a segment for every
 * one of `targets` targets, then the `targets`-way reduce stage, whose tasks get their lists
 * from SegmentIndex.lists, built as each is handed out, as a run's StageInputs does.
 *
 * It measures what the coordinator costs (CPU time of this process, peak RSS) and how long
 * a worker waits for work (Pull round trips that returned a task), and checks what must hold
 * whatever the timings: no worker declared dead, every shard completed exactly once, each
 * reduce task handed its own target's list only.
 */
import { spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import type { ShardOutput } from "../../rpc/Protocol.ts"
import * as Transport from "../../rpc/Transport.ts"
import * as Coordinator from "../../runtime/coordinator/Coordinator.ts"
import * as Scheduler from "../../runtime/coordinator/Scheduler.ts"
import * as RunOptions from "../../runtime/RunOptions.ts"
import * as SegmentIndex from "../../runtime/shuffle/SegmentIndex.ts"
import type * as SimulatedWorkers from "./SimulatedWorkers.ts"

export interface Options {
  readonly workers: number
  readonly processes: number
  readonly mapShards: number
  readonly targets: number
  readonly heartbeatIntervalMs: number
  readonly heartbeatTimeoutMs: number
  readonly taskMs: readonly [number, number]
  readonly log?: ((line: string) => void) | undefined
}

export interface Result {
  readonly workers: number
  readonly mapShards: number
  readonly targets: number
  readonly seconds: number
  readonly registerSeconds: number
  readonly mapSeconds: number
  readonly reduceSeconds: number
  readonly pullP50Ms: number
  readonly pullP99Ms: number
  readonly pullMaxMs: number
  readonly idlePulls: number
  readonly heartbeats: number
  /** CPU time (user + system) of the coordinator's process, in seconds, from the first registration to the end. */
  readonly coordinatorCpuSeconds: number
  readonly coordinatorPeakRssMB: number
  /** Workers declared dead (by a heartbeat timeout or otherwise): none were. */
  readonly falseDeaths: number
  /** Shards that ran more than once, or never. */
  readonly shardsNotRunOnce: number
  readonly retries: number
  readonly badLists: number
  readonly errors: ReadonlyArray<string>
}

const here = path.dirname(fileURLToPath(import.meta.url))

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

/** Starts one child process of simulated workers; resolves to its outcome when it exits. */
const startProcess = (options: SimulatedWorkers.Options, token: string) => {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "SimulatedWorkers.ts"), JSON.stringify(options)], {
    stdio: ["pipe", "pipe", "pipe"], cwd: path.resolve(here, "../..")
  })
  let stdout = "", stderr = ""
  child.stdout.on("data", (d) => { stdout += d })
  child.stderr.on("data", (d) => { stderr += d })
  child.stdin.end(`${token}\n`)
  const done = new Promise<SimulatedWorkers.Outcome>((resolve, reject) => {
    child.on("exit", (code) => {
      const line = stdout.trim().split("\n").pop() ?? ""
      if (code === 0 && line.startsWith("{")) resolve(JSON.parse(line) as SimulatedWorkers.Outcome)
      else reject(new Error(`simulated workers ${options.first}..${options.first + options.count - 1} exited with ${code}: ${stderr.slice(-2000)}`))
    })
  })
  return { child, done }
}

export const run = (options: Options): Promise<Result> =>
  Effect.runPromise(Effect.scoped(Effect.gen(function* () {
    const log = options.log ?? (() => {})
    const token = randomBytes(24).toString("hex")
    const executionDir = "/simulated/exec-scale"
    const spec = {
      executionId: "exec-scale", fingerprint: "simulated-plan", executionDir,
      heartbeatIntervalMs: options.heartbeatIntervalMs, memoryBudgetBytes: 256 << 20, sharedNames: []
    }
    const coordinator = yield* Coordinator.make({
      spec,
      stages: 2,
      config: {
        ...Scheduler.defaults,
        heartbeatTimeoutMs: options.heartbeatTimeoutMs,
        startupGraceMs: options.heartbeatTimeoutMs,
        sweepIntervalMs: Math.max(50, Math.min(1_000, Math.floor(options.heartbeatIntervalMs / 2))),
        idlePollMaxMs: RunOptions.defaults.idlePollMaxMs
      }
    })
    const address = yield* Transport.serveTcp(coordinator.handlers, { token, maxConnections: options.workers + 16 })

    let peakRss = process.memoryUsage().rss
    const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss) }, 100)
    yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(sampler)))

    const started = performance.now()
    const cpu0 = process.cpuUsage()
    const per = Math.ceil(options.workers / options.processes)
    const children = Array.from({ length: options.processes }, (_, p) => {
      const first = p * per
      const count = Math.max(0, Math.min(per, options.workers - first))
      return startProcess({
        address: `${address.host}:${address.port}`, first, count, heartbeatIntervalMs: options.heartbeatIntervalMs,
        taskMs: options.taskMs, mappers: options.mapShards, targets: options.targets, executionDir
      }, token)
    }).filter((_, p) => p * per < options.workers)
    yield* Effect.addFinalizer(() => Effect.sync(() => { for (const c of children) if (c.child.exitCode === null) c.child.kill("SIGKILL") }))
    const outcomes = Effect.promise(() => Promise.all(children.map((c) => c.done)))
    // A process of workers that fails (exits with an error, or with workers that gave up) fails the run at once, rather than leave a stage waiting.
    const childFailed = Effect.async<never, Error>((resume) => {
      for (const c of children) {
        c.done.then(
          // Workers that gave up (a Pull that failed ends a simulated worker) leave their shards held.
          (o) => { if (o.errors.length > 0) resume(Effect.fail(new Error(`${o.errors.length} simulated worker(s) failed, e.g. ${o.errors.slice(0, 3).join("; ")}`))) },
          (e: Error) => resume(Effect.fail(e))
        )
      }
    })
    const orChildFailed = <A, E>(stage: Effect.Effect<A, E>) => Effect.raceFirst(stage, childFailed)

    // Every worker registered before the first stage: the run measures the coordinator, not start-up.
    while (coordinator.scheduler.workers.size < options.workers) yield* Effect.sleep("100 millis")
    const registered = performance.now()
    log(`   ${options.workers} workers registered in ${((registered - started) / 1000).toFixed(1)} s`)

    const maps = yield* orChildFailed(coordinator.runStage(0, Array.from({ length: options.mapShards }, (_, index) => ({ input: { kind: "list" as const, index } })), false))
    const mapped = performance.now()
    log(`   map stage: ${options.mapShards} shards in ${((mapped - registered) / 1000).toFixed(1)} s`)
    const scatters = maps.map((o: ShardOutput) => {
      if (o.kind !== "scatter") throw new Error("a map task reported no scatter")
      return o
    })
    const lists = yield* Effect.promise(() => SegmentIndex.lists(scatters, options.targets, (m) => { throw new Error(`mapper ${m} reported no segments`) }))
    yield* orChildFailed(coordinator.runStage(1, SegmentIndex.deferredInputs(lists).map((input) => ({ input })), true))
    const reduced = performance.now()
    log(`   reduce stage: ${options.targets} targets in ${((reduced - mapped) / 1000).toFixed(1)} s`)
    const cpu = process.cpuUsage(cpu0)
    const results = yield* outcomes

    const scheduler = coordinator.scheduler
    let falseDeaths = 0
    for (const w of scheduler.workers.values()) falseDeaths += w.deaths
    const runs = new Map<string, number>()
    for (const r of results) for (const key of r.ran) runs.set(key, (runs.get(key) ?? 0) + 1)
    let shardsNotRunOnce = 0
    for (let s = 0; s < options.mapShards; s++) if (runs.get(`0:${s}`) !== 1) shardsNotRunOnce++
    for (let s = 0; s < options.targets; s++) if (runs.get(`1:${s}`) !== 1) shardsNotRunOnce++
    const pulls = results.flatMap((r) => r.taskPullMs).sort((a, b) => a - b)
    const retries = (scheduler.stageLogs.get(0)?.retries ?? 0) + (scheduler.stageLogs.get(1)?.retries ?? 0)
    return {
      workers: options.workers, mapShards: options.mapShards, targets: options.targets,
      seconds: (reduced - started) / 1000,
      registerSeconds: (registered - started) / 1000,
      mapSeconds: (mapped - registered) / 1000,
      reduceSeconds: (reduced - mapped) / 1000,
      pullP50Ms: percentile(pulls, 0.5),
      pullP99Ms: percentile(pulls, 0.99),
      pullMaxMs: pulls[pulls.length - 1] ?? Number.NaN,
      idlePulls: results.reduce((n, r) => n + r.idlePulls, 0),
      heartbeats: results.reduce((n, r) => n + r.heartbeats, 0),
      coordinatorCpuSeconds: (cpu.user + cpu.system) / 1e6,
      coordinatorPeakRssMB: Math.round(peakRss / (1 << 20)),
      falseDeaths, shardsNotRunOnce, retries,
      badLists: results.reduce((n, r) => n + r.badLists, 0),
      errors: results.flatMap((r) => r.errors)
    }
  })))

const flag = (argv: ReadonlyArray<string>, name: string, fallback: number): number => {
  const i = argv.indexOf(`--${name}`)
  return i >= 0 ? Number(argv[i + 1]) : fallback
}

// `node --import tsx bench/scale/Simulation.ts [--workers 1000] [--processes 4] [--shards 10000] [--targets 1000]`
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  const argv = process.argv.slice(2)
  run({
    workers: flag(argv, "workers", 1000), processes: flag(argv, "processes", 4), mapShards: flag(argv, "shards", 10_000), targets: flag(argv, "targets", 1000),
    heartbeatIntervalMs: flag(argv, "heartbeat-interval", 5_000), heartbeatTimeoutMs: flag(argv, "heartbeat-timeout", 30_000),
    taskMs: [flag(argv, "task-min", 50), flag(argv, "task-max", 500)], log: (l) => process.stderr.write(`${l}\n`)
  }).then((r) => { process.stdout.write(JSON.stringify(r, null, 2) + "\n"); process.exit(0) }, (e) => { process.stderr.write(`${e?.stack ?? e}\n`); process.exit(1) })
}
