import * as fs from "node:fs"
import * as path from "node:path"
import { randomUUID } from "node:crypto"
import { Cause, Duration, Effect, Exit, Schedule } from "effect"
import * as CounterSet from "../compiler/plan/CounterSet.ts"
import { ZephyrInfraError, ZephyrWorkerError } from "../compiler/plan/Errors.ts"
import type * as Executable from "../compiler/plan/Executable.ts"
import type { JobSpec, ShardOutput } from "../rpc/Protocol.ts"
import * as Coordinator from "./coordinator/Coordinator.ts"
import * as Dashboard from "./Dashboard.ts"
import * as Reshard from "./coordinator/Reshard.ts"
import type * as Scheduler from "./coordinator/Scheduler.ts"
import * as StageInputs from "./coordinator/StageInputs.ts"
import type { Launcher } from "./launcher/Launcher.ts"
import * as RunOptions from "./RunOptions.ts"
import type { Resolved } from "./RunOptions.ts"
import * as AtomicWrite from "./storage/AtomicWrite.ts"
import * as BlockFile from "./storage/BlockFile.ts"
import * as ExecutionDir from "./storage/ExecutionDir.ts"
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
  `${pipelineName(exe)}-${exe.plan.fingerprint.slice(0, 8)}-${Date.now().toString(36)}${randomUUID().slice(0, 4)}`

/** Infrastructure failures may be retried with a fresh coordinator and pool; user errors never. */
const isRetryable = (e: Failure): boolean => e._tag === "ZephyrInfraError" && e.retryable

/**
 * Runs a plan: a fresh coordinator and worker pool per attempt (named by pipeline and
 * attempt, torn down at its end), stages in order behind barriers, results read back in
 * shard order. An infrastructure failure retries the whole pipeline with exponential
 * backoff up to `maxExecutionRetries`; completed stages recorded in chunk storage are
 * not run again. The execution's directory is removed at the end.
 */
export const execute = <A>(exe: Executable.Executable, options: Resolved, launcher: Launcher): Effect.Effect<Result<A>, Failure> =>
  Effect.gen(function* () {
    const executionId = options.executionId ?? newExecutionId(exe)
    const dir = ExecutionDir.of(options.chunkDir, executionId)
    fs.mkdirSync(dir, { recursive: true })
    yield* Effect.logInfo(`execution ${executionId}: ${exe.plan.stages.length} stage(s), ${poolSize(exe, options.workers)} ${options.backend} worker(s); chunks in ${dir} (resume after a crash with --resume ${executionId})`)
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
    yield* Effect.addFinalizer((exit) => Effect.sync(() => {
      // Keep the directory only for a retry of this execution.
      if (Exit.isSuccess(exit) || !isRetryableExit(exit) || attempt >= options.maxExecutionRetries) fs.rmSync(dir, { recursive: true, force: true })
    }))
    const name = `${executionId}-a${attempt}`
    writeShared(dir, options.shared)
    const spec: JobSpec = {
      executionId,
      ...(exe.module ? { module: { path: exe.module.path, ...(exe.module.export !== undefined ? { export: exe.module.export } : {}), args: { ...exe.module.args } } } : {}),
      fingerprint: exe.plan.fingerprint,
      executionDir: dir,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      memoryBudgetBytes: options.memoryBudgetBytes,
      sharedNames: Object.keys(options.shared),
      maxMessageBytes: options.maxMessageBytes
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
    for (const stage of stages) {
      const recorded = readStageRecord(dir, stage.id, exe.plan.fingerprint)
      if (recorded) {
        yield* Effect.logInfo(`stage ${stage.id} (${stage.kind}) already completed in ${executionId}; skipping it`)
        outputs.set(stage.id, recorded)
        continue
      }
      if (stage.input.kind === "reshard") {
        const n = stage.ops[0]?.kind === "reshard" ? stage.ops[0].n : 1
        outputs.set(stage.id, Reshard.split(outputs.get(stage.input.stage) ?? [], n))
        continue
      }
      const inputs = yield* Effect.tryPromise({
        try: () => StageInputs.of(exe, stage, outputs, dir),
        catch: (e) => e instanceof ZephyrWorkerError ? e : new ZephyrInfraError({ reason: "storage", message: `Could not prepare stage ${stage.id}: ${(e as Error)?.message ?? String(e)}`, stage: stage.id, retryable: false })
      })
      const started = Date.now()
      const out = yield* coordinator.runStage(stage.id, inputs, stage.id === lastWorkerStage)
      yield* Effect.logDebug(`stage ${stage.id} (${stage.kind}) done: ${out.length} shard(s) in ${Date.now() - started} ms`)
      outputs.set(stage.id, out)
      writeStageRecord(dir, stage.id, exe.plan.fingerprint, out)
    }
    const last = stages[stages.length - 1]
    const results = last ? readResults(outputs.get(last.id) ?? []) : []
    return { results: results as Array<A>, counters: CounterSet.values(coordinator.scheduler.counters), executionId }
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

const isRetryableExit = (exit: Exit.Exit<unknown, unknown>): boolean => {
  if (Exit.isSuccess(exit)) return false
  const f = Cause.failureOption(exit.cause)
  return f._tag === "Some" && typeof f.value === "object" && f.value !== null && isRetryable(f.value as Failure)
}

const readResults = (outputs: ReadonlyArray<ShardOutput>): Array<unknown> => {
  const out: Array<unknown> = []
  for (const o of outputs) {
    if (o.kind !== "chunks") continue
    const stream = TaskRunner.readRefs(o.refs)
    const it = stream.chunks()
    for (let r = it.next(); !r.done; r = it.next()) for (const x of r.value) out.push(x)
  }
  return out
}

const writeShared = (dir: string, shared: Readonly<Record<string, unknown>>) => {
  for (const [name, value] of Object.entries(shared)) AtomicWrite.writeFileSync(ExecutionDir.sharedFile(dir, name), BlockFile.encode(value))
}

/** A completed stage is recorded (atomically) so that a resumed execution skips it. */
const writeStageRecord = (dir: string, stage: number, fingerprint: string, outputs: ReadonlyArray<ShardOutput>) =>
  AtomicWrite.writeFileSync(ExecutionDir.stageRecord(dir, stage), BlockFile.encode({ fingerprint, outputs }))

const readStageRecord = (dir: string, stage: number, fingerprint: string): ReadonlyArray<ShardOutput> | undefined => {
  const file = ExecutionDir.stageRecord(dir, stage)
  if (!fs.existsSync(file)) return undefined
  try {
    const record = BlockFile.decode(fs.readFileSync(file)) as { fingerprint: string; outputs: ReadonlyArray<ShardOutput> }
    return record.fingerprint === fingerprint ? record.outputs : undefined
  } catch {
    return undefined
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
