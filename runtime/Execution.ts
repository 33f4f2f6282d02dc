import * as path from "node:path"
import { randomUUID } from "node:crypto"
import { Cause, Duration, Effect, Exit } from "effect"
import * as CounterSet from "./task/CounterSet.ts"
import { ZephyrInfraError, type ZephyrPlanError, ZephyrWorkerError } from "../plan/Errors.ts"
import * as Executable from "../executable/Executable.ts"
import type { ModuleRef } from "../plan/ModuleRef.ts"
import * as Op from "../plan/Op.ts"
import type * as Plan from "../plan/Plan.ts"
import * as SourceLocation from "../plan/SourceLocation.ts"
import * as Stage from "../plan/Stage.ts"
import type { JobSpec, ShardOutput } from "../rpc/Protocol.ts"
import * as Coordinator from "./coordinator/Coordinator.ts"
import type * as Dashboard from "./Dashboard.ts"
import * as Progress from "./Progress.ts"
import * as Reshard from "./coordinator/Reshard.ts"
import type * as Scheduler from "./coordinator/Scheduler.ts"
import * as StageInputs from "./coordinator/StageInputs.ts"
import type { Launcher } from "./launcher/Launcher.ts"
import * as RunOptions from "./RunOptions.ts"
import type { Resolved } from "./RunOptions.ts"
import type * as RunSummary from "./RunSummary.ts"
import * as ChunkDir from "./storage/ChunkDir.ts"
import * as ExecutionDir from "./storage/ExecutionDir.ts"
import * as ExecutionStorage from "./storage/ExecutionStorage.ts"
import * as S3Options from "./storage/S3Options.ts"
import type * as StageRecord from "./storage/StageRecord.ts"
import * as TaskRunner from "./task/TaskRunner.ts"
import { OpKind } from "../plan/OpKind.ts"

export interface Result<A> {
  readonly results: Array<A>
  readonly counters: Record<string, number>
  readonly executionId: string
  /** Wall time, records and bytes in and out and counters per stage, retries and their causes, outputs. */
  readonly summary: RunSummary.RunSummary
}

export type Failure = Scheduler.Failure

const pipelineName = (exe: Executable.Executable): string =>
  exe.module ? path.basename(exe.module.path).replace(/\.[cm]?[jt]sx?$/, "").replace(/[^\w-]/g, "_") : "pipeline"

export const newExecutionId = (exe: Executable.Executable): string =>
  `${pipelineName(exe).slice(0, 64)}-${exe.plan.fingerprint.slice(0, 8)}-${Date.now().toString(36)}${randomUUID().slice(0, 4)}`

/** At the end of a run, how long the coordinator waits at most for its alive workers' next pull (to tell them to shut down). */
const END_GRACE_MS = 5_000

/** Infrastructure failures may be retried with a fresh coordinator and pool; user errors never. */
const isRetryable = (e: Failure): boolean => e._tag === "ZephyrInfraError" && e.retryable

const storageFailure = (what: string, e: unknown): ZephyrInfraError =>
  new ZephyrInfraError({ reason: "storage", message: `${what}: ${(e as Error)?.message ?? String(e)}`, retryable: false })

/**
 * The end of an execution's storage (removing it, unlocking it): a failure there, say object
 * storage unreachable, does not undo the run's outcome; it is a warning, and `otherwise` stands.
 */
const cleanUp = <T>(what: string, f: () => Promise<T>, otherwise: T): Effect.Effect<T> =>
  Effect.tryPromise(f).pipe(Effect.catchAll((e) => Effect.as(Effect.logWarning(`could not ${what}: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}`), otherwise)))

/** Errors of the execution directory's set-up: Zephyr's own pass as they are. */
const storageError = (what: string, e: unknown): Failure | ZephyrPlanError =>
  e && typeof e === "object" && "_tag" in e && String((e as { _tag: unknown })._tag).startsWith("Zephyr")
    ? (e as Failure | ZephyrPlanError)
    : storageFailure(what, e)

/**
 * Runs a plan: a fresh coordinator and worker pool per attempt (named by pipeline and
 * attempt, torn down at its end), stages in order behind barriers, results read back in
 * shard order. An infrastructure failure retries the whole pipeline with exponential
 * backoff up to `maxExecutionRetries`; completed stages recorded in chunk storage are
 * not run again. The execution's directory is locked while the run uses it, removed when
 * the run succeeds, and kept (with the command that resumes it printed) otherwise.
 */
export const execute = <A>(exe: Executable.Executable, options: Resolved, launcher: Launcher): Effect.Effect<Result<A>, Failure | ZephyrPlanError> =>
  Effect.gen(function* () {
    const chunkDir = yield* Effect.tryPromise({ try: () => ExecutionStorage.prepare(options.chunkDir), catch: (e) => storageError(`Could not use the chunk directory ${options.chunkDir}`, e) })
    const opened = yield* Effect.tryPromise({
      try: () => ExecutionStorage.open(chunkDir, { executionId: options.executionId, resume: options.resume, module: exe.module && markerModule(exe.module) }, () => newExecutionId(exe)),
      catch: (e) => storageError(`Could not create an execution directory in ${chunkDir}`, e)
    })
    return yield* Effect.acquireUseRelease(
      Effect.tryPromise({ try: () => ExecutionStorage.lock(opened.dir), catch: (e) => storageError(`Could not lock ${opened.dir}`, e) }),
      (lock) => Effect.zipRight(
        lock.tookOverFrom ? Effect.logInfo(`took over the lock of ${opened.executionId} from pid ${lock.tookOverFrom.pid}, which is no longer running`) : Effect.void,
        attempts<A>(exe, options, launcher, opened).pipe(Effect.annotateLogs("execution", opened.executionId))
      ),
      (lock, exit) => Effect.gen(function* () {
        const { executionId, dir } = opened
        if (Exit.isSuccess(exit)) {
          // Only a directory carrying Zephyr's marker is removed (its lock goes with it).
          if (yield* cleanUp(`remove ${dir}`, () => ExecutionStorage.removeIfMarked(dir, executionId), false)) return
          yield* cleanUp(`unlock ${dir}`, () => lock.release(), undefined)
          yield* Effect.logWarning(`execution ${executionId} succeeded; its directory ${dir} is kept because it no longer carries the ${path.basename(ExecutionDir.markerFile(dir))} marker`)
          return
        }
        yield* cleanUp(`unlock ${dir}`, () => lock.release(), undefined)
        const how = Cause.isInterruptedOnly(exit.cause) ? "was interrupted" : "failed"
        yield* Effect.logWarning(`execution ${executionId} ${how}; its completed stages are kept in ${dir}. Resume it with: ${resumeCommand(exe, options, executionId)}`)
      })
    )
  })

/** The marker records how to rebuild the pipeline (for people looking at a kept directory). */
const markerModule = (m: ModuleRef): NonNullable<ExecutionDir.Marker["module"]> =>
  ({ path: m.path, ...(m.export !== undefined ? { export: m.export } : {}), args: { ...m.args } })

const shellWord = (w: string): string => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)

/** The command (or, without a module, the option) that resumes this execution. */
export const resumeCommand = (exe: Executable.Executable, options: Resolved, executionId: string): string => {
  if (!exe.module) return `run the same dataset again with { executionId: ${JSON.stringify(executionId)}${options.chunkDir === ChunkDir.defaultPath() ? "" : `, chunkDir: ${JSON.stringify(options.chunkDir)}`} }`
  const rel = path.relative(process.cwd(), exe.module.path)
  const words = ["zephyr", "run", rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : exe.module.path]
  if (exe.module.export !== undefined) words.push("--export", exe.module.export)
  for (const [k, v] of Object.entries(exe.module.args)) words.push("--arg", `${k}=${v}`)
  if (options.chunkDir !== ChunkDir.defaultPath()) words.push("--chunk-dir", options.chunkDir)
  words.push("--resume", executionId)
  return words.map(shellWord).join(" ")
}

/**
 * The dashboard, when asked for: its module (and the HTTP server) loads only then. It lasts
 * for the whole run, across pipeline retries; one that cannot listen is a warning, not a
 * failure. A token it made up is printed once, in its URL, on stderr and outside the logs
 * (as the external backend's); one the user chose is never printed.
 */
const startDashboard = (exe: Executable.Executable, port: number, chosenToken: string | undefined) =>
  Effect.promise(() => import("./Dashboard.ts")).pipe(
    Effect.flatMap((D) => {
      const token = chosenToken ?? D.newToken()
      return D.serve(exe.plan, port, token).pipe(Effect.tap((d) => Effect.sync(() => process.stderr.write(chosenToken === undefined
        ? `zephyr: dashboard on ${d.url}?token=${token} (a token made up for this run, printed once; Prometheus metrics on ${d.url}metrics with "Authorization: Bearer" and the token)\n`
        : `zephyr: dashboard on ${d.url}?token=<$${RunOptions.DASHBOARD_TOKEN_ENV}> (Prometheus metrics on ${d.url}metrics with "Authorization: Bearer" and the token)\n`))))
    }),
    Effect.catchAll((e) => Effect.as(Effect.logWarning(`dashboard not started on 127.0.0.1:${port}: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}`), undefined))
  )

const attempts = <A>(exe: Executable.Executable, options: Resolved, launcher: Launcher, opened: ExecutionDir.Opened): Effect.Effect<Result<A>, Failure | ZephyrPlanError> =>
  Effect.scoped(Effect.gen(function* () {
    const dashboard = options.dashboard === undefined ? undefined : yield* startDashboard(exe, options.dashboard, options.dashboardToken)
    const run = runAttempts<A>(exe, options, launcher, opened, dashboard)
    return yield* (dashboard ? Effect.onExit(run, (exit) => dashboard.finish(exit)) : run)
  }))

const runAttempts = <A>(exe: Executable.Executable, options: Resolved, launcher: Launcher, opened: ExecutionDir.Opened, dashboard: Dashboard.Dashboard | undefined): Effect.Effect<Result<A>, Failure | ZephyrPlanError> =>
  Effect.gen(function* () {
    const { executionId, dir } = opened
    yield* Effect.promise(() => ExecutionStorage.touch(dir))
    yield* Effect.logInfo(`execution ${executionId}${opened.resumed ? " (resumed)" : ""}: ${exe.plan.stages.length} stage(s), ${poolSize(exe, options.workers)} ${options.backend} worker(s); chunks in ${dir} (resume after a crash with --resume ${executionId})`)
    for (const stage of exe.plan.stages) {
      const load = stage.ops[0]
      if (load !== undefined && "columnsInferred" in load && load.columnsInferred === true && load.columns !== null) {
        yield* Effect.logInfo(`stage ${stage.id} reads only ${load.columns.length === 0 ? "no field" : `the field${load.columns.length === 1 ? "" : "s"} ${load.columns.join(", ")}`} of each input row, all that its functions read (with --no-check, every field)`)
      }
      for (const op of stage.ops) {
        if (op.kind === OpKind.groupBy && op.combinerSums !== undefined) {
          yield* Effect.logInfo(`stage ${stage.id}'s combiner only sums ${op.combinerSums.join(", ")}: the shuffle adds them in place and calls it once per key (with --no-check, once per item)`)
        }
      }
    }
    let attempt = 0
    while (true) {
      const exit = yield* Effect.exit(Effect.scoped(runAttempt<A>(exe, options, launcher, executionId, dir, attempt, dashboard)))
      if (Exit.isSuccess(exit)) return exit.value
      const failure = Cause.failureOption(exit.cause)
      if (failure._tag === "None") return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
      if (!isRetryable(failure.value) || attempt >= options.maxExecutionRetries) return yield* Effect.fail(failure.value)
      const wait = Math.min(60_000, 1_000 * 2 ** attempt)
      yield* Effect.logWarning(`execution ${executionId} attempt ${attempt} failed (${failure.value.message}); retrying with a fresh coordinator and pool in ${wait} ms`)
      yield* Effect.sleep(Duration.millis(wait))
      attempt++
    }
  })

const runAttempt = <A>(exe: Executable.Executable, options: Resolved, launcher: Launcher, executionId: string, dir: string, attempt: number, dashboard: Dashboard.Dashboard | undefined) =>
  Effect.gen(function* () {
    const name = `${executionId}-a${attempt}`
    yield* Effect.tryPromise({ try: () => ExecutionStorage.writeShared(dir, options.shared), catch: (e) => storageFailure(`Could not write the run's shared values in ${dir}`, e) })
    const spec: JobSpec = {
      executionId,
      ...(exe.module ? { module: { path: exe.module.path, ...(exe.module.export !== undefined ? { export: exe.module.export } : {}), args: { ...exe.module.args } } } : {}),
      fingerprint: exe.plan.fingerprint,
      executionDir: dir,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      memoryBudgetBytes: options.memoryBudgetBytes,
      sharedNames: Object.keys(options.shared),
      maxMessageBytes: options.maxMessageBytes,
      reconnectTimeoutMs: options.reconnectTimeoutMs,
      ...Executable.nonEmpty(exe),
      s3: S3Options.share(options.s3)
    }
    const stages = exe.plan.stages
    const lastWorkerStage = [...stages].reverse().find((s) => s.input.kind !== "reshard")?.id ?? -1
    const coordinator = yield* Coordinator.make({
      spec,
      stages: stages.map((s) => ({ id: s.id, kind: s.kind, shards: s.shards.in ?? undefined })),
      config: {
        maxShardFailures: options.maxShardFailures,
        maxShardInfraFailures: options.maxShardInfraFailures,
        heartbeatTimeoutMs: options.heartbeatTimeoutMs,
        noWorkersTimeoutMs: options.noWorkersTimeoutMs,
        startupGraceMs: options.heartbeatTimeoutMs + Math.min(options.heartbeatTimeoutMs, 30_000),
        registrationTimeoutMs: Math.max(options.noWorkersTimeoutMs, 120_000),
        drainIdle: true,
        maxTasksPerPull: RunOptions.defaults.maxTasksPerPull,
        idlePollMaxMs: RunOptions.defaults.idlePollMaxMs,
        sweepIntervalMs: Math.max(50, Math.min(1_000, Math.floor(options.heartbeatIntervalMs / 2)))
      }
    })
    const pool = yield* launcher.start({
      name, coordinator, spec, executable: exe, layer: options.layer, shared: options.shared,
      workers: poolSize(exe, options.workers), maxWorkerRestarts: options.maxWorkerRestarts
    })
    yield* Effect.forkScoped(pool.gone.pipe(Effect.zipRight(coordinator.poolGone)))
    const progress = yield* Progress.track(coordinator, { progress: options.progress, intervalMs: options.progressIntervalMs })
    if (dashboard) yield* dashboard.attach(coordinator, attempt)

    const outputs = new Map<number, ReadonlyArray<ShardOutput>>()
    // The record id of each completed stage's outputs: a stage that read other outputs of a stage that ran again is stale.
    const records = new Map<number, string>()
    for (const stage of stages) {
      if (stage.input.kind === "reshard") {
        // The coordinator only re-deals references: nothing to run or record.
        const n = stage.ops[0]?.kind === OpKind.reshard ? stage.ops[0].n : 1
        outputs.set(stage.id, Reshard.split(outputs.get(stage.input.stage) ?? [], n))
        yield* coordinator.skipStage(stage.id, n, "the coordinator re-deals references")
        continue
      }
      const origin = yield* Effect.tryPromise({ try: () => originOf(exe, stage, records), catch: (e) => storageFailure(`Could not list the input files of stage ${stage.id}`, e) })
      const recorded = yield* Effect.promise(() => ExecutionStorage.checkStage(dir, stage.id, origin))
      if (recorded.kind === "valid") {
        yield* Effect.logInfo(`stage ${stage.id} (${stageLabel(stage)}) already completed in ${executionId}; skipping it`)
        outputs.set(stage.id, recorded.outputs)
        records.set(stage.id, recorded.id)
        yield* coordinator.skipStage(stage.id, recorded.outputs.length, "completed by an earlier run")
        continue
      }
      if (recorded.kind === "stale") yield* Effect.logWarning(`stage ${stage.id} (${stageLabel(stage)}) of ${executionId} runs again: ${recorded.reason}`)
      const inputs = yield* Effect.tryPromise({
        try: () => StageInputs.of(exe, stage, outputs),
        catch: (e) => e instanceof ZephyrWorkerError ? e : new ZephyrInfraError({ reason: "storage", message: `Could not prepare stage ${stage.id}: ${(e as Error)?.message ?? String(e)}`, stage: stage.id, retryable: false })
      })
      const started = Date.now()
      const out = yield* coordinator.runStage(stage.id, inputs, stage.id === lastWorkerStage)
      yield* Effect.logDebug(`stage ${stage.id} (${stage.kind}) done: ${out.length} shard(s) in ${Date.now() - started} ms`)
      outputs.set(stage.id, out)
      const id = yield* Effect.tryPromise({ try: () => ExecutionStorage.recordStage(dir, stage.id, origin, out), catch: (e) => storageFailure(`Could not record stage ${stage.id} in ${dir}`, e) })
      records.set(stage.id, id)
    }
    // Workers between two pulls hear that the run is complete before the coordinator closes.
    yield* coordinator.end(END_GRACE_MS)
    const last = stages[stages.length - 1]
    const results = last ? yield* Effect.tryPromise({ try: () => readResults(outputs.get(last.id) ?? []), catch: (e) => storageFailure(`Could not read the results in ${dir}`, e) }) : []
    return { results: results as Array<A>, counters: CounterSet.values(coordinator.scheduler.counters), executionId, summary: yield* progress.finish }
  })

/** The stages whose outputs a stage reads, seen through reshard stages (which the coordinator runs and nothing records). */
const recordedReads = (plan: Plan.Plan, stage: Stage.Stage): Array<number> =>
  Stage.reads(stage).flatMap((r) => {
    const read = plan.stages[r]!
    return read.input.kind === "reshard" ? recordedReads(plan, read) : [r]
  })

/** What a stage's outputs are computed from, recorded with them and checked on resume. */
const originOf = async (exe: Executable.Executable, stage: Stage.Stage, records: ReadonlyMap<number, string>): Promise<StageRecord.Origin> => {
  const reads = recordedReads(exe.plan, stage)
  return {
    fingerprint: stage.fingerprint,
    reads: Object.fromEntries(reads.map((r) => [String(r), exe.plan.stages[r]!.fingerprint])),
    upstream: Object.fromEntries(reads.map((r) => [String(r), records.get(r) ?? ""])),
    entry: exe.module ? { export: exe.module.export ?? null, args: { ...exe.module.args } } : null,
    inputs: await ExecutionStorage.inputsOf(stage)
  }
}

/** A stage as the resume log names it: its first DSL call (the source, for a stage that reads one) and where it was written. */
const stageLabel = (stage: Stage.Stage): string => {
  if (stage.input.kind === "source") return `${stage.input.source.method} at ${SourceLocation.format(stage.input.source.source)}`
  const op = stage.ops[0]
  return op === undefined ? stage.kind : `${Op.label(op)} at ${SourceLocation.format(op.source)}`
}

/**
 * As many workers as the widest stage has tasks, at most `workers` (the reference's
 * min(workers, shards)): a process that could never get a task is not started.
 */
export const poolSize = (exe: Executable.Executable, workers: number): number => {
  let widest = 0
  for (const stage of exe.plan.stages) if (stage.input.kind !== "reshard") widest = Math.max(widest, stage.shards.in ?? workers)
  return Math.max(1, Math.min(workers, widest))
}

const readResults = async (outputs: ReadonlyArray<ShardOutput>): Promise<Array<unknown>> => {
  // Chunk files in object storage are fetched first.
  const local = await ExecutionStorage.localOutputs(outputs)
  try {
    const out: Array<unknown> = []
    for (const o of local.outputs) {
      if (o.kind !== "chunks") continue
      const stream = TaskRunner.readRefs(o.refs)
      const it = stream.chunks()
      for (let r = it.next(); !r.done; r = it.next()) for (const x of r.value) out.push(x)
    }
    return out
  } finally {
    local.cleanup()
  }
}
