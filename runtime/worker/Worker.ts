import * as os from "node:os"
import { Cause, Clock, Context, Duration, Effect, Fiber, Layer, Ref, Runtime, Schedule } from "effect"
import { ZephyrWorkerError } from "../../plan/Errors.ts"
import type * as Executable from "../../executable/Executable.ts"
import type { JobSpec, Report, Task } from "../../rpc/Protocol.ts"
import * as Transport from "../../rpc/Transport.ts"
import type { CoordinatorClient } from "../../rpc/Transport.ts"
import * as TaskRunner from "../task/TaskRunner.ts"

/**
 * A worker: says hello, rebuilds the plan, registers with its fingerprint, then pulls
 * tasks until told to shut down. Tasks come in batches sized so a batch takes about
 * `BATCH_TARGET_MS`; the reports of a batch ride on the next pull, so the coordinator has
 * recorded them before the worker gets more work (a long batch delivers its reports on the
 * way, in report-only pulls). Heartbeats run on their own fiber. The user's services
 * (`layer`) are built once and kept for every task.
 */
export interface Loaded {
  readonly executable: Executable.Executable
  readonly layer: Layer.Layer<any, any, never> | undefined
}

export interface Options {
  readonly workerId: string
  readonly token?: string | undefined
  readonly client: CoordinatorClient
  /** Rebuilds (or hands over) the plan described by the coordinator's job spec. */
  readonly load: (spec: JobSpec) => Effect.Effect<Loaded, unknown>
  readonly shared: (spec: JobSpec) => (name: string) => unknown
}

export class CoordinatorUnreachable extends Error {}

/** A batch of fast tasks should take about this long: round trips amortised, the tail still balanced. */
const BATCH_TARGET_MS = 50
/** The most tasks a worker asks for at once (the coordinator has its own cap). */
const MAX_BATCH = 1024
/** Within a batch, reports are delivered at least this often... */
const FLUSH_MS = 500
/**
 * ...and once they reach this share of the coordinator's message limit (a bigger message
 * closes the connection). A report takes at most that share too (fitReport), so a pull
 * stays under the limit.
 */
const FLUSH_SHARE = 0.5
/** The most of an error's message (and of its stack) a report carries. */
export const MAX_ERROR_CHARS = 8 << 10

/** What a batch asks for next: enough tasks for `BATCH_TARGET_MS` at the last batch's pace, growing at most 2x per batch. */
export const nextBatchSize = (previous: number, msPerTask: number): number =>
  Math.max(1, Math.min(MAX_BATCH, previous * 2, Math.floor(BATCH_TARGET_MS / Math.max(msPerTask, 1e-3))))

const textBytes = (text: string): number => Buffer.byteLength(text, "utf8")

/** At most about how many bytes a report adds to a pull (msgpack is smaller). */
export const reportBytes = (report: Report): number => {
  let n = report.io ? 320 : 256
  for (const name in report.counters) n += textBytes(name) + 40
  if (report.kind === "failed") return n + textBytes(report.error.message) + textBytes(report.error.cause ?? "") + textBytes(report.error.file ?? "")
  // A write's commit: its pending file, or an object-storage upload's id and parts.
  if (report.commit !== undefined) n += textBytes(report.commit.pending) + textBytes(report.commit.target) + 80 * (report.commit.parts?.length ?? 0)
  if (report.output.kind === "scatter") {
    const index = report.output.index
    if (index === undefined) return n + textBytes(report.output.manifest)
    for (const [file] of index.runs) n += textBytes(file) + 12
    return n + textBytes(report.output.manifest) + 9 * index.segments.length
  }
  for (const ref of report.output.refs) n += ref.kind === "inline" ? ref.bytes.byteLength + 32 : 64 + textBytes(ref.path)
  return n
}

const clip = (text: string): string =>
  text.length <= MAX_ERROR_CHARS ? text : `${text.slice(0, MAX_ERROR_CHARS)}... (${text.length - MAX_ERROR_CHARS} more characters)`

/** An error as a report carries it: message and stack clipped, so that it fits in a message. */
export const clipError = (error: ZephyrWorkerError): ZephyrWorkerError =>
  error.message.length <= MAX_ERROR_CHARS && (error.cause?.length ?? 0) <= MAX_ERROR_CHARS
    ? error
    : new ZephyrWorkerError({ ...error, message: clip(error.message), ...(error.cause !== undefined ? { cause: clip(error.cause) } : {}) })

/**
 * A report that fits in a pull under `limit` bytes. One that cannot (a task that made tens
 * of thousands of distinct counters) fails its shard with a message that says so, instead of
 * closing the worker's connection every time it is retried.
 */
export const fitReport = (report: Report, limit: number): Report => {
  const fitted: Report = report.kind === "failed" ? { ...report, error: clipError(report.error) } : report
  const bytes = reportBytes(fitted)
  if (bytes <= limit) return fitted
  const counters = Object.keys(report.counters).length
  return {
    ...fitted,
    kind: "failed",
    counters: {},
    permanent: true,
    error: new ZephyrWorkerError({
      reason: "user-code",
      message: `The report of stage ${report.stage} shard ${report.shard} is about ${bytes} bytes (${counters} counters), over the ${limit} bytes a report may take (half the coordinator's maxMessageSize): use fewer distinct counter names.`,
      stage: report.stage,
      shard: report.shard,
      attempt: report.attempt
    })
  } as Report
}

/** What `Shared.get` says for a name the run was not given. */
export const unknownShared = (name: string, given: ReadonlyArray<string>): Error =>
  new Error(`Shared.get(${JSON.stringify(name)}): no shared value with that name; the run was given: ${given.join(", ") || "none"}.`)
export class WorkerAborted extends Error {}

export const run = (options: Options) =>
  Effect.gen(function* () {
    const { client, workerId } = options
    // A worker may start before its coordinator listens: keep dialling for a minute.
    const spec = yield* client.Hello({ workerId, token: options.token ?? "" }).pipe(
      Effect.retry({ while: (e) => e._tag === "RpcClientError", schedule: Schedule.spaced("250 millis") }),
      Effect.timeoutFail({ duration: "60 seconds", onTimeout: () => new CoordinatorUnreachable(`Worker ${workerId}: no answer from the coordinator within 60 s; is the address right and is it running?`) })
    )
    // A module or layer that fails fails the same way on every worker: abort the run with
    // its message instead of crashing (and restarting) workers.
    const abort = (what: string) => (cause: Cause.Cause<unknown>) =>
      Effect.gen(function* () {
        const failure = Cause.squash(cause) as { message?: unknown }
        const message = `Worker ${workerId} could not ${what}: ${typeof failure?.message === "string" ? failure.message : String(failure)}`
        yield* client.Abort({ workerId, error: clipError(new ZephyrWorkerError({ reason: "aborted", message, worker: workerId })) }).pipe(Effect.ignore)
        return yield* Effect.fail(new WorkerAborted(message))
      })
    const loaded = yield* options.load(spec).pipe(Effect.catchAllCause(abort("rebuild the pipeline from its module")))
    const flushBytes = Math.floor((spec.maxMessageBytes ?? Transport.limits.maxFrameBytes) * FLUSH_SHARE)
    yield* client.Register({ workerId, fingerprint: loaded.executable.plan.fingerprint, pid: process.pid, host: os.hostname() })
    // The layer's services on top of whatever the worker's fiber already has (in-process
    // workers run inside the caller's context).
    const base = yield* Effect.runtime<never>()
    const built = loaded.layer ? yield* Layer.build(loaded.layer).pipe(Effect.catchAllCause(abort("build the services of the `layer`"))) : undefined
    const runtime: Runtime.Runtime<any> = built
      ? Runtime.make({ context: Context.merge(base.context, built), fiberRefs: base.fiberRefs, runtimeFlags: base.runtimeFlags })
      : (base as Runtime.Runtime<any>)
    const env: TaskRunner.TaskEnv = {
      workerId,
      executionDir: spec.executionDir,
      memoryBudgetBytes: spec.memoryBudgetBytes,
      runtime,
      shared: options.shared(spec)
    }

    // Time-based, not a count of failures: a coordinator that is busy (a registration storm,
    // a big report) answers late, and that is not a reason to quit.
    // With no heartbeat answered for this long the coordinator is taken for dead.
    const unreachableAfter = Math.max(5 * spec.heartbeatIntervalMs, 30_000)
    const lastAnswer = yield* Ref.make(yield* Clock.currentTimeMillis)
    const heartbeat = Effect.gen(function* () {
      const result = yield* client.Heartbeat({ workerId }).pipe(Effect.timeoutOption(Duration.millis(unreachableAfter)), Effect.either)
      if (result._tag === "Right" && result.right._tag === "Some") {
        yield* Ref.set(lastAnswer, yield* Clock.currentTimeMillis)
        // Unknown to the coordinator (it restarted?): register again with the same id.
        if (!result.right.value.known) yield* client.Register({ workerId, fingerprint: loaded.executable.plan.fingerprint, pid: process.pid, host: os.hostname() }).pipe(Effect.ignore)
        return
      }
      const silentFor = (yield* Clock.currentTimeMillis) - (yield* Ref.get(lastAnswer))
      if (silentFor >= unreachableAfter) {
        return yield* Effect.fail(new CoordinatorUnreachable(`Worker ${workerId}: no heartbeat answered by the coordinator for ${Math.round(silentFor / 1000)} s; giving up.`))
      }
    })
    const beating = yield* Effect.forkScoped(heartbeat.pipe(Effect.repeat(Schedule.spaced(Duration.millis(spec.heartbeatIntervalMs)))))

    let reports: Array<Report> = []
    let bytes = 0
    /** Runs tasks[from..] until done or reports are due; resolves to the next index. */
    const runSome = async (tasks: ReadonlyArray<Task>, from: number): Promise<number> => {
      const since = performance.now()
      let i = from
      while (i < tasks.length) {
        const task = tasks[i++]!
        const t0 = performance.now()
        const outcome = await TaskRunner.run(loaded.executable, task, env)
        const head = {
          executionId: task.executionId, stage: task.stage, generation: task.generation, shard: task.shard,
          attempt: task.attempt, counters: outcome.counters.snapshot(), durationMs: Math.round(performance.now() - t0)
        }
        const report = fitReport(outcome.kind === "done"
          ? { kind: "done", ...head, io: outcome.io, output: outcome.output, ...(outcome.commit ? { commit: outcome.commit } : {}) }
          : { kind: "failed", ...head, error: outcome.error, permanent: outcome.permanent, ...(outcome.infrastructure ? { infrastructure: true } : {}) }, flushBytes)
        // Below flushBytes before, at most flushBytes more: the pull stays under the limit.
        reports.push(report)
        bytes += reportBytes(report)
        if (bytes >= flushBytes || performance.now() - since >= FLUSH_MS) break
      }
      return i
    }
    let max = 1
    const loop = Effect.gen(function* () {
      while (true) {
        const response = yield* client.Pull({ workerId, reports, max })
        reports = []
        bytes = 0
        if (response.kind === "shutdown") return response.reason
        if (response.kind === "backoff") {
          yield* Effect.sleep(Duration.millis(response.ms))
          continue
        }
        const tasks = response.tasks
        const started = performance.now()
        let next = 0
        while (true) {
          next = yield* Effect.promise(() => runSome(tasks, next))
          if (next >= tasks.length) break
          // Reports are due in the middle of the batch: deliver them, asking for nothing.
          const delivered = yield* client.Pull({ workerId, reports, max: 0 })
          reports = []
          bytes = 0
          if (delivered.kind === "shutdown") return delivered.reason
        }
        max = nextBatchSize(max, (performance.now() - started) / tasks.length)
      }
    })
    const reason = yield* Effect.raceFirst(loop, Fiber.join(beating).pipe(Effect.zipRight(Effect.never)))
    yield* Effect.logDebug(`worker ${workerId} shutting down: ${reason}`)
    return reason
  })
