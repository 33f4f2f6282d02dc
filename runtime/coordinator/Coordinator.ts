import * as path from "node:path"
import { Cause, Clock, Deferred, Duration, Effect, Schedule } from "effect"
import { ZephyrFingerprintError, ZephyrInfraError, ZephyrWorkerError } from "../../plan/Errors.ts"
import type { JobSpec, PullResponse, Report, ShardInput, ShardOutput } from "../../rpc/Protocol.ts"
import * as OutputCommit from "../formats/OutputCommit.ts"
import * as SegmentIndex from "../shuffle/SegmentIndex.ts"
import * as Scheduler from "./Scheduler.ts"
import * as StatusSnapshot from "./StatusSnapshot.ts"

/**
 * The coordinator of one execution: the Scheduler's decisions wrapped in an Effect
 * service that owns time (a sweeper fiber, long-polled pulls; all read from Effect's
 * Clock, so TestClock drives them) and I/O (publishing the accepted attempt's output
 * files), and serves the RPC group. Who may call it is the transport's business
 * (Transport: a token on Hello, then a session per connection); its handlers trust their
 * callers.
 */
export interface Coordinator {
  readonly scheduler: Scheduler.Scheduler
  /** Starts a stage and waits until every shard is done or a rule fails it. */
  readonly runStage: (
    stage: number,
    inputs: ReadonlyArray<Scheduler.ShardSpec>,
    isLast: boolean
  ) => Effect.Effect<ReadonlyArray<ShardOutput>, Scheduler.Failure>
  /** A worker process exited (`outOfMemory`: it hit its heap limit). */
  readonly workerExited: (workerId: string, reason: string, outOfMemory?: boolean, host?: string) => Effect.Effect<void>
  /** The launcher started a worker's process (again): it is starting until it registers. */
  readonly workerStarting: (workerId: string) => Effect.Effect<void>
  /** A stage that runs no tasks here (completed by an earlier run, or a reshard), for the books. */
  readonly skipStage: (stage: number, shards: number, why: string) => Effect.Effect<void>
  readonly poolGone: Effect.Effect<void>
  /**
   * The run is complete: tells every alive worker to shut down on its next pull (held pulls at
   * once) and waits, at most `graceMs`, until each has been told, so that workers exit
   * cleanly rather than find their coordinator gone.
   */
  readonly end: (graceMs: number) => Effect.Effect<void>
  /** Where the execution is (StatusSnapshot), every stage of it; the `Status` handler takes a stage filter. */
  readonly status: Effect.Effect<StatusSnapshot.Snapshot>
  /** Fails the execution from outside (a launcher error, an interrupt). */
  readonly abort: (error: Scheduler.Failure) => Effect.Effect<void>
  readonly handlers: Handlers
}

/** The RPC handlers, callable directly (tests, in-process workers) or served over a transport. */
export interface Handlers {
  readonly Hello: (p: { readonly workerId: string; readonly token: string }) => Effect.Effect<JobSpec, ZephyrInfraError>
  readonly Register: (p: RegisterPayload) => Effect.Effect<{ readonly executionId: string }, ZephyrFingerprintError | ZephyrInfraError>
  readonly Pull: (p: { readonly workerId: string; readonly reports: ReadonlyArray<Report>; readonly max: number; readonly incarnation?: string | undefined }) => Effect.Effect<PullResponse>
  readonly Heartbeat: (p: { readonly workerId: string; readonly incarnation?: string | undefined }) => Effect.Effect<{ readonly known: boolean }>
  readonly Status: (p: { readonly stage?: number | undefined }) => Effect.Effect<StatusSnapshot.Snapshot>
  readonly Abort: (p: { readonly workerId: string; readonly error: ZephyrWorkerError }) => Effect.Effect<void>
}

export interface RegisterPayload {
  readonly workerId: string
  readonly fingerprint: string
  readonly pid: number
  readonly host: string
  /** Random per worker process: tells a reconnect of the same process from a new process under the same id. */
  readonly incarnation?: string | undefined
}

export interface Options {
  readonly spec: JobSpec
  readonly config: Scheduler.Config
  /** The plan's stages (or how many there are), for the status. */
  readonly stages: number | ReadonlyArray<StatusSnapshot.StageInfo>
  /** How long a Pull waits for work before answering `backoff`. */
  readonly longPollMs?: number | undefined
}

export const make = (options: Options) =>
  Effect.gen(function* () {
    const scheduler = new Scheduler.Scheduler(options.spec.executionId, options.config)
    const longPoll = options.longPollMs ?? 1_000
    let changed = yield* Deferred.make<void>()
    /** Completed when the running stage is over (done or failed); only runStage waits on it. */
    let settled: Deferred.Deferred<void> | undefined

    const stages: ReadonlyArray<StatusSnapshot.StageInfo> = typeof options.stages === "number"
      ? Array.from({ length: options.stages }, (_, id) => ({ id, kind: "stage" }))
      : options.stages
    const logEvents = Effect.suspend(() =>
      Effect.forEach(scheduler.drainEvents(), (e) =>
        (e.level === "warn" ? Effect.logWarning(e.message) : e.level === "info" ? Effect.logInfo(e.message) : Effect.logDebug(e.message)).pipe(
          Effect.annotateLogs(annotationsOf(options.spec.executionId, e.fields))
        ), { discard: true })
    )

    /**
     * Runs a scheduler step and, if it changed what idle workers wait for (work to hand out,
     * a failure), wakes them; if it settled the stage, wakes runStage. Waking on every step
     * would make idle long-polls wake each other in a loop (each re-poll a "change" for all
     * the others) and cost O(waiters) per report.
     */
    const step = <A>(f: (now: number) => A): Effect.Effect<A> =>
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const before = scheduler.version
        const result = f(now)
        if (scheduler.version !== before) {
          const previous = changed
          changed = yield* Deferred.make<void>()
          yield* Deferred.succeed(previous, undefined)
        }
        if (settled !== undefined && scheduler.settled()) {
          const stage = settled
          settled = undefined
          yield* Deferred.succeed(stage, undefined)
        }
        if (scheduler.hasEvents()) yield* logEvents
        return result
      })

    const waitForChange = (timeoutMs: number) => Deferred.await(changed).pipe(Effect.timeoutOption(Duration.millis(Math.max(0, timeoutMs))), Effect.asVoid)

    const sweeper = step((now) => scheduler.sweep(now)).pipe(
      Effect.tap(({ dead, ages }) =>
        ages.n > 0 && (dead.length > 0 || ages.max > options.config.heartbeatTimeoutMs / 2)
          ? Effect.logInfo(`heartbeat ages over ${ages.n} alive worker(s): p50 ${ages.p50} ms, p90 ${ages.p90} ms, max ${ages.max} ms; declared dead: ${dead.length ? dead.join(", ") : "none"}`)
          : Effect.void
      ),
      Effect.repeat(Schedule.spaced(Duration.millis(options.config.sweepIntervalMs)))
    )
    // Without its sweeper the run could wait forever on a dead worker: a defect in it fails the execution.
    yield* Effect.forkScoped(sweeper.pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : step(() => scheduler.abort(new ZephyrWorkerError({
          reason: "internal",
          message: `Internal: the coordinator's liveness checks stopped (${messageOf(Cause.squash(cause))}), so dead workers could no longer be noticed; the execution is failed rather than left to hang.`,
          cause: Cause.pretty(cause)
        })))
      )
    ))

    /** The local files published in the current stage, by directory (OutputCommit.sweep). */
    const published = new Map<string, Set<string>>()

    /**
     * A write's output: the accepted attempt's file is renamed over the target (one that
     * cannot be is an infrastructure failure of that attempt); any other attempt's file is
     * removed. Runs in the same step as the Scheduler's decision, so nothing moves between.
     */
    const commit = (workerId: string, reports: ReadonlyArray<Report>): ReadonlyArray<Report> =>
      reports.some((r) => r.kind === "done" && r.commit !== undefined)
        ? reports.map((report) => {
          if (report.kind !== "done" || report.commit === undefined || OutputCommit.isRemote(report.commit)) return report
          if (!scheduler.accepts(workerId, report)) {
            OutputCommit.discard(report.commit)
            return report
          }
          const problem = OutputCommit.publish(report.commit)
          if (problem !== undefined) return notPublished(report, workerId, problem)
          const dir = path.dirname(report.commit.target)
          const names = published.get(dir) ?? new Set<string>()
          published.set(dir, names.add(path.basename(report.commit.target)))
          return report
        })
        : reports

    /**
     * An object-storage output is published by a request to the store, which cannot run
     * inside a step: the accepted attempt's upload is completed before the step that records
     * its report (an upload that cannot be is an infrastructure failure of that attempt), and
     * the others' uploads are aborted. Should the worker lose its shard meanwhile (declared
     * dead during the request), the report is then ignored and the next attempt completes its
     * own upload over the same key: the object under the target is always a complete one.
     */
    const commitRemote = (workerId: string, reports: ReadonlyArray<Report>): Effect.Effect<ReadonlyArray<Report>> =>
      reports.some((r) => r.kind === "done" && r.commit !== undefined && OutputCommit.isRemote(r.commit))
        ? Effect.forEach(reports, (report) => {
          if (report.kind !== "done" || report.commit === undefined || !OutputCommit.isRemote(report.commit)) return Effect.succeed(report)
          const target = report.commit
          if (!scheduler.accepts(workerId, report)) return Effect.as(Effect.forkDaemon(Effect.promise(() => OutputCommit.discardRemote(target))), report)
          return Effect.map(Effect.promise(() => OutputCommit.publishRemote(target)), (problem): Report => problem === undefined ? report : notPublished(report, workerId, problem))
        }, { concurrency: 8 })
        : Effect.succeed(reports)

    const runStage: Coordinator["runStage"] = (stage, inputs, isLast) =>
      Effect.gen(function* () {
        const over = yield* Deferred.make<void>()
        settled = over
        yield* step((now) => scheduler.startStage(stage, inputs, isLast, now))
        yield* Deferred.await(over)
        // What killed attempts of this stage's writes left beside the published files.
        yield* Effect.sync(() => {
          for (const [dir, names] of published) OutputCommit.sweep(dir, names)
          published.clear()
        })
        const outcome = scheduler.outcome()
        if (outcome.kind === "done") return outcome.outputs
        if (outcome.kind === "failed") return yield* Effect.fail(outcome.error)
        return yield* Effect.dieMessage(`Internal: stage ${stage} settled while still running`)
      })

    const pull = (workerId: string, reports: ReadonlyArray<Report>, max: number, incarnation?: string): Effect.Effect<PullResponse> =>
      Effect.gen(function* () {
        if (scheduler.isReplaced(workerId, incarnation)) {
          // A process replaced by a newer one under its id: its reports are not its id's any more.
          yield* Effect.forEach(reports, (r) => r.kind === "done" && r.commit !== undefined ? discardCommit(r.commit) : Effect.void, { discard: true })
          return { kind: "shutdown", reason: `replaced: a newer process registered as worker ${workerId}` } as const
        }
        const start = yield* Clock.currentTimeMillis
        const entry = scheduler.workers.get(workerId)
        if (entry) entry.activeRequests++
        try {
          const published = yield* commitRemote(workerId, reports)
          let response: Scheduler.Pull = yield* step((now) => scheduler.pull(workerId, commit(workerId, published), max, now))
          // Long poll: hold an idle worker until there is work (or a while has passed; longer
          // each time it stays idle, so an idle pool does not flood the coordinator with
          // pulls). A worker that asked for nothing is delivering reports mid-batch: answer at once.
          const hold = response.kind === "backoff" && max > 0 ? scheduler.idleHold(workerId, longPoll) : 0
          while (response.kind === "backoff" && max > 0) {
            const now = yield* Clock.currentTimeMillis
            if (now - start >= hold) break
            yield* waitForChange(hold - (now - start))
            response = yield* step((t) => scheduler.pull(workerId, [], max, t))
          }
          return yield* handOut(response)
        } finally {
          if (entry) entry.activeRequests--
        }
      })

    // When the event loop last had a turn, the bytes of the lists built since, and the turns
    // taken (real time: this measures work, not the run's clock). The first pull to wake after
    // a turn starts the new turn's budget; the others find it spent or not.
    let turnStarted = performance.now()
    let turnBytes = 0
    let turns = 0
    /**
     * Builds a reduce task's list, after a turn of the event loop once the lists built since
     * the last one have taken SLICE_MS or reached TURN_BYTES: when a thousand workers pull
     * reduce tasks at once, they are built and sent a few per turn, with sockets served
     * between, instead of in one stall and one burst of a gigabyte of responses (which the
     * receiving processes could not read before their keep-alives gave up).
     */
    const build = (input: SegmentIndex.Deferred): Effect.Effect<ShardInput> =>
      Effect.suspend(() => {
        if (performance.now() - turnStarted < SLICE_MS && turnBytes < TURN_BYTES) {
          turnBytes += SegmentIndex.inputBytes(input)
          return Effect.succeed(SegmentIndex.handedOut(input))
        }
        const turn = turns
        return Effect.zipRight(
          nextTurn.pipe(Effect.tap(() => Effect.sync(() => {
            if (turns === turn) { turns++; turnStarted = performance.now(); turnBytes = 0 }
          }))),
          build(input)
        )
      })
    /** A pull's tasks as they go on the wire: a reduce task's segment list is built now, for this task only. */
    const handOut = (response: Scheduler.Pull): Effect.Effect<PullResponse> =>
      response.kind !== "tasks" ? Effect.succeed(response)
      : !response.tasks.some((t) => t.input.kind === "deferred-shuffle") ? Effect.succeed(response as PullResponse)
      : Effect.map(
        Effect.forEach(response.tasks, (task) => {
          const input = task.input
          return input.kind !== "deferred-shuffle" ? Effect.succeed({ ...task, input }) : Effect.map(build(input), (built) => ({ ...task, input: built }))
        }),
        (tasks) => ({ kind: "tasks" as const, tasks })
      )

    const handlers: Handlers = {
      // The token was checked before this runs (Transport's Session); in-process workers present none.
      Hello: ({ workerId }: { readonly workerId: string; readonly token: string }) =>
        scheduler.fatal
          ? Effect.fail(new ZephyrInfraError({ reason: "execution-ended", message: `Execution ${options.spec.executionId} already failed; worker ${workerId} is not needed.`, retryable: false }))
          : Effect.succeed(options.spec),
      Register: ({ workerId, fingerprint, pid, host, incarnation }: RegisterPayload) =>
        Effect.gen(function* () {
          if (fingerprint !== options.spec.fingerprint) {
            return yield* Effect.fail(yield* step(() => scheduler.fingerprintMismatch(workerId, options.spec.fingerprint, fingerprint)))
          }
          const { kind } = yield* step((now) => scheduler.register(workerId, now, { incarnation, pid, host }))
          if (kind === "refused") {
            return yield* Effect.fail(new ZephyrInfraError({
              reason: "worker-replaced",
              message: `Worker ${workerId} (pid ${pid} on ${host}) was replaced by a newer process registered under the same id; this one stops. Give every worker process its own --worker-id.`,
              retryable: false
            }))
          }
          return { executionId: options.spec.executionId }
        }),
      Pull: ({ workerId, reports, max, incarnation }) => pull(workerId, reports, max, incarnation),
      // A replaced process is not told it is unknown (it would register again): its next pull stops it.
      Heartbeat: ({ workerId, incarnation }) => scheduler.isReplaced(workerId, incarnation) ? Effect.succeed({ known: true }) : step((now) => scheduler.heartbeat(workerId, now)),
      Status: ({ stage }) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => StatusSnapshot.of(scheduler, now, stages, { stage }))),
      Abort: ({ error }) => step(() => scheduler.abort(error))
    }

    const service: Coordinator = {
      scheduler,
      runStage,
      workerExited: (workerId, reason, outOfMemory, host) => step((now) => scheduler.workerExited(workerId, now, reason, outOfMemory, host)),
      workerStarting: (workerId) => step((now) => scheduler.workerStarting(workerId, now)),
      skipStage: (stage, shards, why) => step((now) => scheduler.skipStage(stage, shards, why, now)),
      poolGone: step((now) => scheduler.markPoolGone(now)),
      end: (graceMs) =>
        Effect.gen(function* () {
          yield* step((now) => scheduler.end(now))
          const until = (yield* Clock.currentTimeMillis) + graceMs
          while (scheduler.aliveWorkers() > 0 && (yield* Clock.currentTimeMillis) < until) yield* Effect.sleep(Duration.millis(20))
        }),
      status: handlers.Status({}),
      abort: (error) => step(() => scheduler.abort(error)),
      handlers
    }
    return service
  })

/** Synchronous work between two turns of the event loop while reduce tasks are handed out (ms). */
const SLICE_MS = 20
/** Bytes of reduce tasks built between two turns of the event loop (a few 1 MB tasks of a 10,000-mapper shuffle). */
const TURN_BYTES = 4 << 20

/** A turn of the event loop (I/O is served), not just of Effect's scheduler. */
const nextTurn = Effect.async<void>((resume) => {
  const handle = setImmediate(() => resume(Effect.void))
  return Effect.sync(() => clearImmediate(handle))
})

/** Removes an attempt's unpublished output (a pending file, an incomplete upload). */
const discardCommit = (commit: NonNullable<Extract<Report, { kind: "done" }>["commit"]>): Effect.Effect<void> =>
  OutputCommit.isRemote(commit)
    ? Effect.asVoid(Effect.forkDaemon(Effect.promise(() => OutputCommit.discardRemote(commit))))
    : Effect.sync(() => OutputCommit.discard(commit))

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** A done report whose output could not be published, as the infrastructure failure it is. */
const notPublished = (report: Extract<Report, { kind: "done" }>, workerId: string, message: string): Report => ({
  kind: "failed",
  executionId: report.executionId, stage: report.stage, generation: report.generation, shard: report.shard,
  attempt: report.attempt, counters: {}, durationMs: report.durationMs,
  error: new ZephyrWorkerError({ reason: "internal", message, stage: report.stage, shard: report.shard, attempt: report.attempt, worker: workerId }),
  permanent: false,
  infrastructure: true
})

/** A log's annotations: the execution, and the stage, shard, attempt and worker an event names. */
const annotationsOf = (executionId: string, fields: Scheduler.EventFields | undefined): Record<string, unknown> => {
  const out: Record<string, unknown> = { execution: executionId }
  if (fields) for (const [k, v] of Object.entries(fields)) if (v !== undefined) out[k] = v
  return out
}
