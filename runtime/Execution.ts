import * as path from "node:path"
import { randomUUID } from "node:crypto"
import { Cause, Duration, Effect, Exit, Schedule } from "effect"
import * as CounterSet from "../compiler/plan/CounterSet.ts"
import { ZephyrInfraError, type ZephyrPlanError, ZephyrWorkerError } from "../compiler/plan/Errors.ts"
import type * as Executable from "../compiler/plan/Executable.ts"
import type * as Stage from "../compiler/plan/Stage.ts"
import type { JobSpec, ShardOutput } from "../rpc/Protocol.ts"
import * as Coordinator from "./coordinator/Coordinator.ts"
import * as Dashboard from "./Dashboard.ts"
import * as Reshard from "./coordinator/Reshard.ts"
import type * as Scheduler from "./coordinator/Scheduler.ts"
import * as StageInputs from "./coordinator/StageInputs.ts"
import type { Launcher } from "./launcher/Launcher.ts"
import * as RunOptions from "./RunOptions.ts"
import type { Resolved } from "./RunOptions.ts"
import * as ChunkDir from "./storage/ChunkDir.ts"
import * as ExecutionDir from "./storage/ExecutionDir.ts"
import * as ExecutionStorage from "./storage/ExecutionStorage.ts"
import * as S3Options from "./storage/S3Options.ts"
import type * as StageRecord from "./storage/StageRecord.ts"
import * as TaskRunner from "./task/TaskRunner.ts"

export interface Result<A> {
  readonly results: Array<A>
  readonly counters: Record<string, number>
  readonly executionId: string
}

export type Failure = Scheduler.Failure

const pipelineName = (exe: Executable.Executable): string =>
  exe.module ? path.basename(exe.module.path).replace(/\.[cm]?[jt]sx?$/, "").replace(/[^\w-]/g, "_") : "pipeline"

export const newExecutionId = (exe: Executable.Executable): string =>
  `${pipelineName(exe).slice(0, 64)}-${exe.plan.fingerprint.slice(0, 8)}-${Date.now().toString(36)}${randomUUID().slice(0, 4)}`

/** Infrastructure failures may be retried with a fresh coordinator and pool; user errors never. */
const isRetryable = (e: Failure): boolean => e._tag === "ZephyrInfraError" && e.retryable

const storageFailure = (what: string, e: unknown): ZephyrInfraError =>
  new ZephyrInfraError({ reason: "storage", message: `${what}: ${(e as Error)?.message ?? String(e)}`, retryable: false })

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
        attempts<A>(exe, options, launcher, opened)
      ),
      (lock, exit) => Effect.gen(function* () {
        const { executionId, dir } = opened
        if (Exit.isSuccess(exit)) {
          // Only a directory carrying Zephyr's marker is removed (its lock goes with it).
          if (yield* Effect.promise(() => ExecutionStorage.removeIfMarked(dir, executionId))) return
          yield* Effect.promise(() => lock.release())
          yield* Effect.logWarning(`execution ${executionId} succeeded; its directory ${dir} is kept because it no longer carries the ${path.basename(ExecutionDir.markerFile(dir))} marker`)
          return
        }
        yield* Effect.promise(() => lock.release())
        const how = Cause.isInterruptedOnly(exit.cause) ? "was interrupted" : "failed"
        yield* Effect.logWarning(`execution ${executionId} ${how}; its completed stages are kept in ${dir}. Resume it with: ${resumeCommand(exe, options, executionId)}`)
      })
    )
  })

/** The marker records how to rebuild the pipeline (for people looking at a kept directory). */
const markerModule = (m: Executable.ModuleRef): NonNullable<ExecutionDir.Marker["module"]> =>
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

const attempts = <A>(exe: Executable.Executable, options: Resolved, launcher: Launcher, opened: ExecutionDir.Opened): Effect.Effect<Result<A>, Failure | ZephyrPlanError> =>
  Effect.gen(function* () {
    const { executionId, dir } = opened
    yield* Effect.promise(() => ExecutionStorage.touch(dir))
    yield* Effect.logInfo(`execution ${executionId}${opened.resumed ? " (resumed)" : ""}: ${exe.plan.stages.length} stage(s), ${poolSize(exe, options.workers)} ${options.backend} worker(s); chunks in ${dir} (resume after a crash with --resume ${executionId})`)
    let attempt = 0
    while (true) {
      const exit = yield* Effect.exit(Effect.scoped(runAttempt<A>(exe, options, launcher, executionId, dir, attempt)))
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

const runAttempt = <A>(exe: Executable.Executable, options: Resolved, launcher: Launcher, executionId: string, dir: string, attempt: number) =>
  Effect.gen(function* () {
    const name = `${executionId}-a${attempt}`
    yield* Effect.promise(() => ExecutionStorage.writeShared(dir, options.shared))
    const spec: JobSpec = {
      executionId,
      ...(exe.module ? { module: { path: exe.module.path, ...(exe.module.export !== undefined ? { export: exe.module.export } : {}), args: { ...exe.module.args } } } : {}),
      fingerprint: exe.plan.fingerprint,
      executionDir: dir,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      memoryBudgetBytes: options.memoryBudgetBytes,
      sharedNames: Object.keys(options.shared),
      maxMessageBytes: options.maxMessageBytes,
      s3: S3Options.share(options.s3)
    }
    const stages = exe.plan.stages
    const lastWorkerStage = [...stages].reverse().find((s) => s.input.kind !== "reshard")?.id ?? -1
    const coordinator = yield* Coordinator.make({
      spec,
      stages: stages.length,
      config: {
        maxShardFailures: options.maxShardFailures,
        maxShardInfraFailures: options.maxShardInfraFailures,
        heartbeatTimeoutMs: options.heartbeatTimeoutMs,
        noWorkersTimeoutMs: options.noWorkersTimeoutMs,
        startupGraceMs: options.heartbeatTimeoutMs + Math.min(options.heartbeatTimeoutMs, 30_000),
        registrationTimeoutMs: Math.max(options.noWorkersTimeoutMs, 120_000),
        drainIdle: true,
        maxTasksPerPull: RunOptions.defaults.maxTasksPerPull,
        sweepIntervalMs: Math.max(50, Math.min(1_000, Math.floor(options.heartbeatIntervalMs / 2)))
      }
    })
    const pool = yield* launcher.start({
      name, coordinator, spec, executable: exe, layer: options.layer, shared: options.shared,
      workers: poolSize(exe, options.workers), maxWorkerRestarts: options.maxWorkerRestarts
    })
    yield* Effect.forkScoped(pool.gone.pipe(Effect.zipRight(coordinator.poolGone)))
    if (options.progress) yield* Effect.forkScoped(progress(coordinator, exe))
    if (options.dashboard !== undefined) {
      yield* Dashboard.serve(coordinator, exe, options.dashboard).pipe(
        Effect.catchAll((e) => Effect.logWarning(`dashboard not started on port ${options.dashboard}: ${e.message}`))
      )
    }

    const outputs = new Map<number, ReadonlyArray<ShardOutput>>()
    // Once a stage runs, the stages after it run too: their records were computed from its old outputs.
    let rerun: string | undefined
    for (const stage of stages) {
      if (stage.input.kind === "reshard") {
        // The coordinator only re-deals references: nothing to run or record.
        const n = stage.ops[0]?.kind === "reshard" ? stage.ops[0].n : 1
        outputs.set(stage.id, Reshard.split(outputs.get(stage.input.stage) ?? [], n))
        continue
      }
      const origin = yield* Effect.tryPromise({ try: () => originOf(exe, stage), catch: (e) => storageFailure(`Could not list the input files of stage ${stage.id}`, e) })
      if (rerun === undefined) {
        const recorded = yield* Effect.promise(() => ExecutionStorage.checkStage(dir, stage.id, origin))
        if (recorded.kind === "valid") {
          yield* Effect.logInfo(`stage ${stage.id} (${stage.kind}) already completed in ${executionId}; skipping it`)
          outputs.set(stage.id, recorded.outputs)
          continue
        }
        if (recorded.kind === "stale") yield* Effect.logWarning(`stage ${stage.id} (${stage.kind}) of ${executionId} runs again, and the stages after it: ${recorded.reason}`)
        rerun = `stage ${stage.id} ran again`
      } else if (yield* Effect.promise(() => ExecutionStorage.stageExists(dir, stage.id))) {
        yield* Effect.logWarning(`stage ${stage.id} (${stage.kind}) of ${executionId} runs again: ${rerun}`)
      }
      const inputs = yield* Effect.tryPromise({
        try: () => StageInputs.of(exe, stage, outputs, dir),
        catch: (e) => e instanceof ZephyrWorkerError ? e : new ZephyrInfraError({ reason: "storage", message: `Could not prepare stage ${stage.id}: ${(e as Error)?.message ?? String(e)}`, stage: stage.id, retryable: false })
      })
      const started = Date.now()
      const out = yield* coordinator.runStage(stage.id, inputs, stage.id === lastWorkerStage)
      yield* Effect.logDebug(`stage ${stage.id} (${stage.kind}) done: ${out.length} shard(s) in ${Date.now() - started} ms`)
      outputs.set(stage.id, out)
      yield* Effect.tryPromise({ try: () => ExecutionStorage.recordStage(dir, stage.id, origin, out), catch: (e) => storageFailure(`Could not record stage ${stage.id} in ${dir}`, e) })
    }
    const last = stages[stages.length - 1]
    const results = last ? yield* Effect.tryPromise({ try: () => readResults(outputs.get(last.id) ?? []), catch: (e) => storageFailure(`Could not read the results in ${dir}`, e) }) : []
    return { results: results as Array<A>, counters: CounterSet.values(coordinator.scheduler.counters), executionId }
  })

/** What a stage's outputs are computed from, recorded with them and checked on resume. */
const originOf = async (exe: Executable.Executable, stage: Stage.Stage): Promise<StageRecord.Origin> => ({
  fingerprint: exe.plan.fingerprint,
  entry: exe.module ? { export: exe.module.export ?? null, args: { ...exe.module.args } } : null,
  sources: exe.module?.sources ?? null,
  inputs: await ExecutionStorage.inputsOf(stage)
})

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

const progress = (coordinator: Coordinator.Coordinator, exe: Executable.Executable) =>
  Effect.gen(function* () {
    const s = yield* coordinator.status
    if (s.stage === null) return
    const stage = exe.plan.stages[s.stage]
    const alive = s.workers.filter((w) => w.state === "alive").length
    const dead = s.workers.filter((w) => w.state === "failed").length
    yield* Effect.logInfo(`[${s.executionId}] stage ${s.stage}/${s.stages - 1} (${stage?.kind}): ${s.completed}/${s.total} complete, ${s.inFlight} in-flight, ${s.queued} queued, ${alive}/${s.workers.length} workers alive, ${dead} dead${s.retries ? `, ${s.retries} retries` : ""}`)
  }).pipe(Effect.repeat(Schedule.spaced("5 seconds")), Effect.asVoid)
