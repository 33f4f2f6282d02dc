/**
 * One process of the scale simulation: `count` simulated workers, each its own RPC client
 * on its own TCP connection to a real coordinator. They do what Worker.run does on the wire
 * (Hello with the token, Register with the plan's fingerprint, a heartbeat fiber, Pull with
 * the previous task's report, sleep after a backoff), with fake work: a task sleeps a
 * duration drawn from its shard, a map task reports a scatter index with a segment for
 * every target, a reduce task checks that it was handed its own target's list only.
 *
 *   node --import tsx bench/scale/SimulatedWorkers.ts '<json options>'   (token on stdin)
 *
 * Prints one JSON line (Outcome) on stdout when every worker was told to shut down.
 */
import * as readline from "node:readline"
import { Duration, Effect, Schedule } from "effect"
import type { Report, ShardOutput, Task } from "../../rpc/Protocol.ts"
import * as Transport from "../../rpc/Transport.ts"
import * as SegmentIndex from "../../runtime/shuffle/SegmentIndex.ts"

export interface Options {
  readonly address: string
  readonly first: number
  readonly count: number
  readonly heartbeatIntervalMs: number
  /** Fake work per task: from `taskMs[0]` to `taskMs[1]` ms, drawn from the shard. */
  readonly taskMs: readonly [number, number]
  /** The map stage's shard count (each reduce list must name one segment per mapper). */
  readonly mappers: number
  readonly targets: number
  readonly executionDir: string
}

export interface Outcome {
  /** Round trips of pulls that returned tasks (ms): what a worker waits for work, its report included. */
  readonly taskPullMs: ReadonlyArray<number>
  /** Pulls answered `backoff` (idle). */
  readonly idlePulls: number
  readonly heartbeats: number
  /** Tasks run, as `stage:shard`. */
  readonly ran: ReadonlyArray<string>
  /** Reduce tasks whose list was not exactly their own target's segments, one per mapper. */
  readonly badLists: number
  readonly errors: ReadonlyArray<string>
}

/** A deterministic duration for a shard, spread over [lo, hi]. */
const durationOf = (stage: number, shard: number, [lo, hi]: readonly [number, number]): number => {
  let h = Math.imul(stage + 1, 0x9e3779b1) ^ Math.imul(shard + 1, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return lo + (((h ^ (h >>> 16)) >>> 0) % (hi - lo + 1))
}

const SEGMENT_BYTES = 4_096

/** What a mapper of `targets` targets reports: one run, a segment for every target. */
const scatterOutput = (options: Options, task: Task): ShardOutput => {
  const segments = new Float64Array(5 * options.targets)
  for (let t = 0; t < options.targets; t++) segments.set([0, t, t * SEGMENT_BYTES, SEGMENT_BYTES, 10], 5 * t)
  return {
    kind: "scatter",
    manifest: `${options.executionDir}/stage-${task.stage}/scatter/shard-${task.shard}-a${task.attempt}-5eed5eed/manifest-5eed5eed5eed.json`,
    index: { sorted: false, runs: [["run-00000-5eed5eed5eed.zrun", 131_072]], segments }
  }
}

export const run = (options: Options, token: string): Promise<Outcome> => {
  const taskPullMs: Array<number> = []
  const ran: Array<string> = []
  const errors: Array<string> = []
  let idlePulls = 0, heartbeats = 0, badLists = 0

  const ownList = (task: Task): boolean => {
    const input = task.input
    if (input.kind !== "shuffle" || input.target !== task.shard) return false
    if (input.segments.length !== 5 * options.mappers) return false
    for (let i = 0; i < input.segments.length; i += 5) if (input.segments[i + 1] !== task.shard * SEGMENT_BYTES) return false
    // As a worker reads it: a path per segment, in the execution's directory.
    try {
      return SegmentIndex.segmentsOf(input, options.executionDir).every((s) => s.file.startsWith(`${options.executionDir}/stage-0/scatter/shard-`))
    } catch {
      return false
    }
  }

  const worker = (workerId: string) =>
    Effect.scoped(Effect.gen(function* () {
      const { host, port } = Transport.parseAddress(options.address)
      const client = yield* Transport.connectTcp(host, port)
      const spec = yield* client.Hello({ workerId, token }).pipe(Effect.retry({ schedule: Schedule.spaced("250 millis"), times: 200 }))
      yield* client.Register({ workerId, fingerprint: spec.fingerprint, pid: process.pid, host: "simulated" })
      yield* Effect.forkScoped(client.Heartbeat({ workerId }).pipe(
        Effect.tap(() => Effect.sync(() => { heartbeats++ })),
        Effect.ignore,
        Effect.repeat(Schedule.spaced(Duration.millis(spec.heartbeatIntervalMs)))
      ))
      let reports: Array<Report> = []
      while (true) {
        const t0 = performance.now()
        const response = yield* client.Pull({ workerId, reports, max: 1 })
        const ms = performance.now() - t0
        reports = []
        if (response.kind === "shutdown") return
        if (response.kind === "backoff") {
          idlePulls++
          yield* Effect.sleep(Duration.millis(response.ms))
          continue
        }
        taskPullMs.push(ms)
        for (const task of response.tasks) {
          const started = performance.now()
          yield* Effect.sleep(Duration.millis(durationOf(task.stage, task.shard, options.taskMs)))
          ran.push(`${task.stage}:${task.shard}`)
          const isMap = task.input.kind !== "shuffle"
          if (!isMap && !ownList(task)) badLists++
          const output: ShardOutput = isMap
            ? scatterOutput(options, task)
            : { kind: "chunks", refs: [{ kind: "file", path: `${options.executionDir}/stage-${task.stage}/shard-${task.shard}/a${task.attempt}.blk`, count: 10, skip: 0, take: 10 }] }
          reports.push({
            kind: "done", executionId: task.executionId, stage: task.stage, generation: task.generation, shard: task.shard, attempt: task.attempt,
            counters: {}, durationMs: Math.round(performance.now() - started), output
          })
        }
      }
    })).pipe(Effect.catchAllCause((cause) => Effect.sync(() => { errors.push(`${workerId}: ${String(cause).slice(0, 500)}`) })))

  const ids = Array.from({ length: options.count }, (_, i) => `sim-${String(options.first + i).padStart(5, "0")}`)
  return Effect.runPromise(Effect.forEach(ids, worker, { concurrency: "unbounded", discard: true })).then(() => ({
    taskPullMs, idlePulls, heartbeats, ran, badLists, errors
  }))
}

const main = async () => {
  const options = JSON.parse(process.argv[2] ?? "{}") as Options
  const lines = readline.createInterface({ input: process.stdin })
  const token = await new Promise<string>((resolve) => lines.once("line", resolve))
  lines.close()
  const outcome = await run(options, token)
  process.stdout.write(JSON.stringify(outcome) + "\n")
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  main().then(() => process.exit(0), (e) => { process.stderr.write(`${e?.stack ?? e}\n`); process.exit(1) })
}
