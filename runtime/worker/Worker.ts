import { randomUUID } from "node:crypto"
import * as os from "node:os"
import { Cause, Clock, Context, Deferred, Duration, Effect, Exit, Layer, Ref, Runtime, Schedule, Scope } from "effect"
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
 *
 * A connection is one session (Hello, Register, then pulls). When it breaks (a transport
 * error, or heartbeats unanswered too long) the worker dials again for the reconnect
 * timeout and registers under the same id with the same incarnation (random per process),
 * which the coordinator takes as a reconnect: what the worker held is re-queued.
 */
export interface Loaded {
  readonly executable: Executable.Executable
  readonly layer: Layer.Layer<any, any, never> | undefined
}

export interface Options {
  readonly workerId: string
  readonly token?: string | undefined
  /** A connection that cannot break (in memory); or else `connect`. */
  readonly client?: CoordinatorClient | undefined
  /**
   * Dials the coordinator: one connection per session, closed with the scope. A session
   * whose connection breaks is dialled again (Hello, then Register under the same id).
   */
  readonly connect?: Effect.Effect<CoordinatorClient, never, Scope.Scope> | undefined
  /** How long to keep dialling after the connection broke (default: the job spec's, else RunOptions.defaults); 0 gives up at once. */
  readonly reconnectTimeoutMs?: number | undefined
  /** Rebuilds (or hands over) the plan described by the coordinator's job spec. */
  readonly load: (spec: JobSpec) => Effect.Effect<Loaded, unknown>
  readonly shared: (spec: JobSpec) => (name: string) => unknown
}

export class CoordinatorUnreachable extends Error {}

/** How long a worker keeps dialling a coordinator that does not answer yet, when it starts. */
const FIRST_DIAL_MS = 60_000
/** Without a job spec that says otherwise: how long a worker keeps dialling after its connection broke. */
export const DEFAULT_RECONNECT_MS = 60_000
/** Dialling backs off from the first to the last of these. */
const DIAL_DELAY_MS = [250, 2_000] as const

const isTransportError = (e: unknown): boolean => (e as { _tag?: unknown } | undefined)?._tag === "RpcClientError"

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
    return n + textBytes(report.output.manifest) + index.segments.byteLength
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
    const { workerId } = options
    // Random per process: a reconnect of this process is told from a new process under the same id.
    const incarnation = randomUUID()
    const connect = options.connect ?? Effect.succeed(options.client!)

    /**
     * A connection that said Hello: dialled again with backoff while it breaks or is refused
     * (the coordinator is not listening yet, or not reachable for now), for at most `windowMs`.
     */
    const dial = (windowMs: number, what: string) =>
      Effect.gen(function* () {
        const deadline = (yield* Clock.currentTimeMillis) + windowMs
        let delay: number = DIAL_DELAY_MS[0]
        let last = "no answer"
        while (true) {
          const scope = yield* Scope.make()
          const remaining = deadline - (yield* Clock.currentTimeMillis)
          const attempt = yield* Effect.gen(function* () {
            const client = yield* Scope.extend(connect, scope)
            const spec = yield* client.Hello({ workerId, token: options.token ?? "" }).pipe(
              Effect.timeoutFail({ duration: Duration.millis(Math.max(1, remaining)), onTimeout: () => new CoordinatorUnreachable("no answer to Hello") })
            )
            return { client, spec, scope }
          }).pipe(Effect.either)
          if (attempt._tag === "Right") return attempt.right
          yield* Scope.close(scope, Exit.void)
          const error = attempt.left
          if (!isTransportError(error) && !(error instanceof CoordinatorUnreachable)) return yield* Effect.fail(error)
          last = error.message
          const left = deadline - (yield* Clock.currentTimeMillis)
          if (left <= 0) {
            return yield* Effect.fail(new CoordinatorUnreachable(`Worker ${workerId}: ${what} within ${Math.round(windowMs / 1000)} s (last: ${last}); is the address right, is the coordinator running and reachable from here?`))
          }
          yield* Effect.sleep(Duration.millis(Math.min(delay, left)))
          delay = Math.min(delay * 2, DIAL_DELAY_MS[1])
        }
      })

    // A worker may start before its coordinator listens: keep dialling for a minute.
    let session = yield* dial(FIRST_DIAL_MS, "no answer from the coordinator")
    const spec = session.spec
    const reconnectMs = options.reconnectTimeoutMs ?? spec.reconnectTimeoutMs ?? DEFAULT_RECONNECT_MS
    // A module or layer that fails fails the same way on every worker: abort the run with
    // its message instead of crashing (and restarting) workers.
    const abort = (what: string) => (cause: Cause.Cause<unknown>) =>
      Effect.gen(function* () {
        const failure = Cause.squash(cause) as { message?: unknown }
        const message = `Worker ${workerId} could not ${what}: ${typeof failure?.message === "string" ? failure.message : String(failure)}`
        yield* session.client.Abort({ workerId, error: clipError(new ZephyrWorkerError({ reason: "aborted", message, worker: workerId })) }).pipe(Effect.ignore)
        return yield* Effect.fail(new WorkerAborted(message))
      })
    const loaded = yield* options.load(spec).pipe(Effect.catchAllCause(abort("rebuild the pipeline from its module")))
    const flushBytes = Math.floor((spec.maxMessageBytes ?? Transport.limits.maxFrameBytes) * FLUSH_SHARE)
    // A launcher may name where the process runs better than its host name (a Kubernetes pod's name).
    const registration = { workerId, fingerprint: loaded.executable.plan.fingerprint, pid: process.pid, host: process.env.ZEPHYR_WORKER_HOST || os.hostname(), incarnation }
    yield* session.client.Register(registration)
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
    // With no heartbeat answered for this long the connection is taken for broken.
    const unreachableAfter = Math.max(5 * spec.heartbeatIntervalMs, 30_000)

    // Reports not yet delivered, across sessions: those of a broken session go with the next
    // one's first pull (the coordinator ignores them as stale and removes their pending files).
    let reports: Array<Report> = []
    let bytes = 0
    /** Set when the session breaks: the batch stops after its current task (its shards are re-queued). */
    let abandoned = false
    let running: Promise<number> | undefined
    /** Runs tasks[from..] until done or reports are due; resolves to the next index. */
    const runSome = async (tasks: ReadonlyArray<Task>, from: number): Promise<number> => {
      const since = performance.now()
      let i = from
      while (i < tasks.length && !abandoned) {
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
    const runTasks = (tasks: ReadonlyArray<Task>, from: number) => Effect.promise(() => (running = runSome(tasks, from)))
    let max = 1

    /** The connection broke (a transport error, or heartbeats unanswered too long). */
    class Lost {
      constructor(readonly why: string) {}
    }

    /** One connection's life: heartbeats and pulls until shutdown, or until it breaks. */
    const serve = (client: CoordinatorClient) =>
      Effect.gen(function* () {
        const lost = yield* Deferred.make<never, Lost>()
        const transport = <A, E, R>(call: Effect.Effect<A, E, R>) =>
          call.pipe(Effect.catchIf(isTransportError, (e) => Effect.fail(new Lost((e as Error).message))))
        const lastAnswer = yield* Ref.make(yield* Clock.currentTimeMillis)
        const heartbeat = Effect.gen(function* () {
          const result = yield* client.Heartbeat({ workerId, incarnation }).pipe(Effect.timeoutOption(Duration.millis(unreachableAfter)), Effect.either)
          if (result._tag === "Right" && result.right._tag === "Some") {
            yield* Ref.set(lastAnswer, yield* Clock.currentTimeMillis)
            // Unknown to the coordinator (it restarted?): register again with the same id.
            if (!result.right.value.known) yield* client.Register(registration).pipe(Effect.ignore)
            return
          }
          if (result._tag === "Left" && isTransportError(result.left)) return yield* Effect.fail(new Lost(result.left.message))
          const silentFor = (yield* Clock.currentTimeMillis) - (yield* Ref.get(lastAnswer))
          if (silentFor >= unreachableAfter) return yield* Effect.fail(new Lost(`no heartbeat answered for ${Math.round(silentFor / 1000)} s`))
        })
        yield* Effect.forkScoped(heartbeat.pipe(
          Effect.repeat(Schedule.spaced(Duration.millis(spec.heartbeatIntervalMs))),
          Effect.catchAll((e) => Effect.sync(() => { abandoned = true }).pipe(Effect.zipRight(Deferred.fail(lost, e))))
        ))
        const loop = Effect.gen(function* () {
          // A task that was running when the previous connection broke finishes first (one
          // task at a time); the rest of its batch is dropped: re-registering re-queued it.
          if (running) yield* Effect.promise(() => running!.catch(() => 0))
          abandoned = false
          while (true) {
            const response = yield* transport(client.Pull({ workerId, reports, max, incarnation }))
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
              next = yield* runTasks(tasks, next)
              if (next >= tasks.length || abandoned) break
              // Reports are due in the middle of the batch: deliver them, asking for nothing.
              const delivered = yield* transport(client.Pull({ workerId, reports, max: 0, incarnation }))
              reports = []
              bytes = 0
              if (delivered.kind === "shutdown") return delivered.reason
            }
            if (abandoned) return yield* Deferred.await(lost)
            max = nextBatchSize(max, (performance.now() - started) / tasks.length)
          }
        })
        return yield* Effect.raceFirst(loop, Deferred.await(lost))
      }).pipe(Effect.either)

    while (true) {
      const outcome = yield* Effect.ensuring(Effect.scoped(serve(session.client)), Scope.close(session.scope, Exit.void))
      if (outcome._tag === "Right") {
        const reason = outcome.right
        if (reason.startsWith("replaced")) yield* Effect.logWarning(`worker ${workerId} stops: ${reason}`)
        else yield* Effect.logDebug(`worker ${workerId} shutting down: ${reason}`)
        return reason
      }
      // The running task stops its batch; the next session waits for it before pulling.
      abandoned = true
      if (!(outcome.left instanceof Lost)) return yield* Effect.fail(outcome.left)
      const why = outcome.left.why
      if (reconnectMs <= 0) return yield* Effect.fail(new CoordinatorUnreachable(`Worker ${workerId}: lost the connection to the coordinator (${why}); not reconnecting (reconnect timeout 0).`))
      yield* Effect.logWarning(`worker ${workerId} lost its connection to the coordinator (${why}); dialling again for up to ${Math.round(reconnectMs / 1000)} s`)
      session = yield* dial(reconnectMs, "could not reconnect to the coordinator")
      if (session.spec.executionId !== spec.executionId || session.spec.fingerprint !== spec.fingerprint) {
        yield* Scope.close(session.scope, Exit.void)
        const reason = `the coordinator now runs execution ${session.spec.executionId}, not ${spec.executionId}: this worker's run is over`
        yield* Effect.logWarning(`worker ${workerId} stops: ${reason}`)
        return reason
      }
      yield* session.client.Register(registration)
      yield* Effect.logInfo(`worker ${workerId} reconnected and registered again`)
    }
  })
