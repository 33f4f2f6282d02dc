import { Clock, Deferred, Duration, Effect, Schedule } from "effect"
import { ZephyrFingerprintError, ZephyrInfraError, type ZephyrWorkerError } from "../../compiler/plan/Errors.ts"
import type { JobSpec, PullResponse, Report, ShardInput, ShardOutput, Status } from "../../rpc/Protocol.ts"
import * as Scheduler from "./Scheduler.ts"

/**
 * The coordinator of one execution: the Scheduler's decisions wrapped in an Effect
 * service that owns time (a sweeper fiber, long-polled pulls) and serves the RPC group.
 * Who may call it is the transport's business (Transport: a token on Hello, then a session
 * per connection); its handlers trust their callers.
 */
export interface Coordinator {
  readonly scheduler: Scheduler.Scheduler
  /** Starts a stage and waits until every shard is done or a rule fails it. */
  readonly runStage: (
    stage: number,
    inputs: ReadonlyArray<{ readonly input: ShardInput; readonly right?: ShardInput | undefined }>,
    isLast: boolean
  ) => Effect.Effect<ReadonlyArray<ShardOutput>, Scheduler.Failure>
  readonly workerExited: (workerId: string, reason: string) => Effect.Effect<void>
  readonly poolGone: Effect.Effect<void>
  readonly status: Effect.Effect<Status>
  /** Fails the execution from outside (a launcher error, an interrupt). */
  readonly abort: (error: Scheduler.Failure) => Effect.Effect<void>
  readonly handlers: Handlers
}

/** The RPC handlers, callable directly (tests, in-process workers) or served over a transport. */
export interface Handlers {
  readonly Hello: (p: { readonly workerId: string; readonly token: string }) => Effect.Effect<JobSpec, ZephyrInfraError>
  readonly Register: (p: { readonly workerId: string; readonly fingerprint: string; readonly pid: number; readonly host: string }) => Effect.Effect<{ readonly executionId: string }, ZephyrFingerprintError>
  readonly Pull: (p: { readonly workerId: string; readonly reports: ReadonlyArray<Report>; readonly max: number }) => Effect.Effect<PullResponse>
  readonly Heartbeat: (p: { readonly workerId: string }) => Effect.Effect<{ readonly known: boolean }>
  readonly Status: () => Effect.Effect<Status>
  readonly Abort: (p: { readonly workerId: string; readonly error: ZephyrWorkerError }) => Effect.Effect<void>
}

export interface Options {
  readonly spec: JobSpec
  readonly config: Scheduler.Config
  readonly stages: number
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

    const logEvents = Effect.suspend(() =>
      Effect.forEach(scheduler.drainEvents(), (e) =>
        e.level === "warn" ? Effect.logWarning(e.message) : e.level === "info" ? Effect.logInfo(e.message) : Effect.logDebug(e.message), { discard: true })
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
    yield* Effect.forkScoped(sweeper)

    const runStage: Coordinator["runStage"] = (stage, inputs, isLast) =>
      Effect.gen(function* () {
        const over = yield* Deferred.make<void>()
        settled = over
        yield* step(() => scheduler.startStage(stage, inputs, isLast))
        yield* Deferred.await(over)
        const outcome = scheduler.outcome()
        if (outcome.kind === "done") return outcome.outputs
        if (outcome.kind === "failed") return yield* Effect.fail(outcome.error)
        return yield* Effect.dieMessage(`Internal: stage ${stage} settled while still running`)
      })

    const pull = (workerId: string, reports: ReadonlyArray<Report>, max: number): Effect.Effect<PullResponse> =>
      Effect.gen(function* () {
        const start = yield* Clock.currentTimeMillis
        const entry = scheduler.workers.get(workerId)
        if (entry) entry.activeRequests++
        try {
          let response = yield* step((now) => scheduler.pull(workerId, reports, max, now))
          // Long poll: hold an idle worker until there is work (or a while has passed). A
          // worker that asked for nothing is delivering reports mid-batch: answer at once.
          while (response.kind === "backoff" && max > 0) {
            const now = yield* Clock.currentTimeMillis
            if (now - start >= longPoll) break
            yield* waitForChange(longPoll - (now - start))
            response = yield* step((t) => scheduler.pull(workerId, [], max, t))
          }
          return response
        } finally {
          if (entry) entry.activeRequests--
        }
      })

    const handlers: Handlers = {
      // The token was checked before this runs (Transport's Session); in-process workers present none.
      Hello: ({ workerId }: { readonly workerId: string; readonly token: string }) =>
        scheduler.fatal
          ? Effect.fail(new ZephyrInfraError({ reason: "execution-ended", message: `Execution ${options.spec.executionId} already failed; worker ${workerId} is not needed.`, retryable: false }))
          : Effect.succeed(options.spec),
      Register: ({ workerId, fingerprint }: { readonly workerId: string; readonly fingerprint: string; readonly pid: number; readonly host: string }) =>
        Effect.gen(function* () {
          if (fingerprint !== options.spec.fingerprint) {
            return yield* Effect.fail(yield* step(() => scheduler.fingerprintMismatch(workerId, options.spec.fingerprint, fingerprint)))
          }
          yield* step((now) => scheduler.register(workerId, now))
          return { executionId: options.spec.executionId }
        }),
      Pull: ({ workerId, reports, max }: { readonly workerId: string; readonly reports: ReadonlyArray<Report>; readonly max: number }) => pull(workerId, reports, max),
      Heartbeat: ({ workerId }: { readonly workerId: string }) => step((now) => scheduler.heartbeat(workerId, now)),
      Status: () => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => scheduler.status(now, options.stages))),
      Abort: ({ error }) => step(() => scheduler.abort(error))
    }

    const service: Coordinator = {
      scheduler,
      runStage,
      workerExited: (workerId, reason) => step((now) => scheduler.workerExited(workerId, now, reason)),
      poolGone: step((now) => scheduler.markPoolGone(now)),
      status: handlers.Status(),
      abort: (error) => step(() => scheduler.abort(error)),
      handlers
    }
    return service
  })
