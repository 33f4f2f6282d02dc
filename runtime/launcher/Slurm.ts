import { randomBytes } from "node:crypto"
import * as os from "node:os"
import * as path from "node:path"
import { Deferred, Duration, Effect, Exit, Schedule } from "effect"
import { ZephyrInfraError } from "../../plan/Errors.ts"
import * as Transport from "../../rpc/Transport.ts"
import * as PackageRoot from "../PackageRoot.ts"
import type { Launcher, Pool, PoolContext } from "./Launcher.ts"
import * as SlurmCommands from "./SlurmCommands.ts"
import * as SlurmJob from "./SlurmJob.ts"
import type * as SlurmOptions from "./SlurmOptions.ts"
import * as SlurmStates from "./SlurmStates.ts"
import * as WorkerProcesses from "./WorkerProcesses.ts"

export interface Options {
  /** HOST:PORT the coordinator listens on; the nodes must reach it (RunOptions made sure an address off loopback comes with a token). */
  readonly listen: string
  /** The secret workers present; a random one per pool when not given (the workers get it from Slurm, nobody types it). */
  readonly token?: string | undefined
  readonly maxConnections?: number | undefined
  readonly slurm: SlurmOptions.Resolved
  /** How often squeue is asked about the array (default 2 s). */
  readonly pollIntervalMs?: number | undefined
}

const DEFAULT_POLL_MS = 2_000
/** How long a successful run waits for its released workers to exit before cancelling the array. */
const END_WAIT = Duration.seconds(5)
const END_POLL = Duration.millis(250)
/** Consecutive failed polls before a warning (the heartbeat timeout still catches dead workers). */
const WARN_AFTER_FAILED_POLLS = 5

/** The address the nodes dial: this host's name when listening on every interface. */
const advertised = (address: { readonly host: string; readonly port: number }): string => {
  const host = address.host === "0.0.0.0" || address.host === "::" ? os.hostname() : address.host
  return `${host.includes(":") ? `[${host}]` : host}:${address.port}`
}

/**
 * Workers as one Slurm job array (`sbatch --array=0-(N-1)`), task i running
 * `zephyr worker` as worker `<pool>-w<i>` with the driver's Node and checkout (see SlurmJob).
 * The coordinator listens on `listen`; the workers dial it with the token they get in the
 * job's environment. `squeue` is polled: a task that ends badly (cancelled, failed, node
 * failure, preempted, timed out) is a dead worker at once, its shards re-queued, and while
 * the run goes on the task is requeued (`scontrol requeue`, at most `maxWorkerRestarts`
 * times per task), so its worker comes back under the same id; when every task has ended
 * the pool is gone. The array is cancelled (`scancel`) when the pool's scope
 * closes: at the end of the run, on failure and on Ctrl-C.
 */
export const make = (options: Options): Launcher => ({
  name: "slurm",
  start: (ctx) => start(options, ctx).pipe(Effect.provide(SlurmCommands.layer))
})

export const start = (options: Options, ctx: PoolContext) =>
  Effect.gen(function* () {
    if (!ctx.spec.module) {
      return yield* Effect.fail(new ZephyrInfraError({ reason: "unsupported-backend", message: "Slurm workers rebuild the pipeline from its module: run it with Zephyr.runModule or the CLI.", retryable: false }))
    }
    if (ctx.layer) {
      return yield* Effect.fail(new ZephyrInfraError({
        reason: "unsupported-backend",
        message: "The `layer` option cannot travel to Slurm workers: export `layer` from the pipeline module (workers build it themselves).",
        retryable: false
      }))
    }
    const commands = yield* SlurmCommands.SlurmCommands
    const token = options.token ?? randomBytes(24).toString("base64url")
    const { host, port } = Transport.parseAddress(options.listen)
    const address = yield* Transport.serveTcp(ctx.coordinator.handlers, {
      host, port, token, maxFrameBytes: ctx.spec.maxMessageBytes, maxConnections: options.maxConnections
    }).pipe(
      Effect.mapError((e) => new ZephyrInfraError({ reason: "listen-failed", message: `Could not listen on ${options.listen}: ${e.message}`, retryable: false }))
    )
    const coordinator = advertised(address)
    const submission = SlurmJob.submission({
      pool: ctx.name,
      workers: ctx.workers,
      coordinator,
      token,
      node: process.execPath,
      zephyr: path.join(PackageRoot.root, "bin", "zephyr.js"),
      heapFlags: WorkerProcesses.heapFlags(ctx.spec.memoryBudgetBytes),
      heapEnvironment: WorkerProcesses.heapEnvironment(ctx.spec.memoryBudgetBytes),
      logDir: ctx.spec.executionDir,
      options: options.slurm
    })

    const jobId = yield* Effect.acquireRelease(
      commands.run({ program: "sbatch", args: submission.args, input: submission.script, env: submission.env }).pipe(
        Effect.mapError((e) => e.message),
        Effect.flatMap((stdout) => {
          const id = SlurmJob.jobIdOf(stdout)
          return id === undefined ? Effect.fail(`it answered ${JSON.stringify(stdout.trim().slice(0, 200))} instead of a job id`) : Effect.succeed(id)
        }),
        Effect.mapError((why) => new ZephyrInfraError({
          reason: "launch-failed",
          message: `sbatch could not submit the ${ctx.workers} worker(s) as a job array: ${why}. Check the --slurm-* options (partition, time, CPUs, memory, extra sbatch arguments) and that sbatch works from this shell.`,
          retryable: false
        }))
      ),
      (id, exit) =>
        // After a success the workers, told to shut down, are exiting: let them end as COMPLETED
        // (what sacct and the user then see) before cancelling whatever is left. A release runs
        // uninterruptibly: the wait is made interruptible, or the timeout could not stop it.
        (Exit.isSuccess(exit) ? Effect.ignore(Effect.timeout(Effect.interruptible(ended(id)), END_WAIT)) : Effect.void).pipe(
          Effect.zipRight(commands.run({ program: "scancel", args: [id] })),
          Effect.tap(() => Effect.logDebug(`cancelled Slurm job array ${id}`)),
          // Already finished, or the controller is away: nothing more to do.
          Effect.catchAll((e) => Effect.logDebug(`scancel ${id}: ${e.message}`))
        )
    )
    yield* Effect.logInfo(`submitted ${ctx.workers} Slurm worker(s) as job array ${jobId}; they dial ${coordinator}${submission.logPattern ? `; their output: ${SlurmJob.logOf(submission.logPattern, jobId, 0)?.replace(/_0\.log$/, "_<task>.log")}` : ""}`)

    const gone = yield* Deferred.make<void>()
    yield* Effect.forkScoped(watch(options, ctx, jobId, submission.logPattern, gone))
    const pool: Pool = { gone: Deferred.await(gone) }
    return pool
  })

/** squeue's listing of the array; [] once the controller has forgotten the job; undefined when squeue failed. */
const listing = (jobId: string) =>
  Effect.flatMap(SlurmCommands.SlurmCommands, (commands) =>
    commands.run({ program: "squeue", args: SlurmStates.squeueArgs(jobId) }).pipe(
      Effect.map(SlurmStates.parseSqueue),
      Effect.catchAll((e) => SlurmStates.isUnknownJob(e.message) ? Effect.succeed([]) : Effect.as(Effect.logDebug(`squeue --jobs=${jobId}: ${e.message}`), undefined))
    ))

/** What sacct knows of the array's tasks; nothing when it cannot say (no accounting storage). */
const accounting = (jobId: string) =>
  Effect.flatMap(SlurmCommands.SlurmCommands, (commands) =>
    commands.run({ program: "sacct", args: SlurmStates.sacctArgs(jobId) }).pipe(
      Effect.map((stdout) => SlurmStates.parseSacct(stdout, jobId)),
      Effect.catchAll((e) => Effect.as(Effect.logDebug(`sacct --jobs=${jobId}: ${e.message}`), []))
    ))

/** Completes once squeue lists no live task of the array. */
const ended = (jobId: string) =>
  listing(jobId).pipe(
    Effect.map((listed) => listed !== undefined && listed.every((t) => SlurmStates.fateOf(t.state) !== "live")),
    Effect.repeat({ until: (done) => done, schedule: Schedule.spaced(END_POLL) })
  )

/**
 * Polls the array's tasks until every one has ended, telling the coordinator of each lost
 * one; while the run goes on, a lost task is requeued (same task id, so its worker comes
 * back under the same id) up to `maxWorkerRestarts` times.
 */
const watch = (options: Options, ctx: PoolContext, jobId: string, logPattern: string | undefined, gone: Deferred.Deferred<void>) =>
  Effect.gen(function* () {
    const commands = yield* SlurmCommands.SlurmCommands
    const interval = Duration.millis(options.pollIntervalMs ?? DEFAULT_POLL_MS)
    let tracked = SlurmStates.initial(ctx.workers)
    const restarts = new Map<number, number>()
    let failedPolls = 0
    while (true) {
      yield* Effect.sleep(interval)
      const listed = yield* listing(jobId)
      if (listed === undefined) {
        if (++failedPolls === WARN_AFTER_FAILED_POLLS) {
          yield* Effect.logWarning(`squeue has failed ${failedPolls} times in a row for Slurm job ${jobId}; dead workers are noticed after the heartbeat timeout meanwhile (ZEPHYR_LOG_LEVEL=debug shows squeue's messages)`)
        }
        continue
      }
      failedPolls = 0
      const missing = SlurmStates.unlisted(tracked, listed)
      const extra = missing.length === 0 ? [] : (yield* accounting(jobId)).filter((t) => missing.includes(t.task))
      const u = SlurmStates.update(tracked, [...listed, ...extra], missing.length > 0)
      tracked = u.tracked
      for (const lost of u.lost) {
        const reason = SlurmStates.describe(jobId, lost, SlurmJob.logOf(logPattern, jobId, lost.task))
        yield* ctx.coordinator.workerExited(`${ctx.name}-w${lost.task}`, reason, SlurmStates.isOutOfMemory(lost.state))
      }
      const running = ctx.coordinator.scheduler.fatal === undefined && ctx.coordinator.scheduler.outcome().kind === "running"
      for (const task of SlurmStates.toRestart(u.lost, restarts, ctx.maxWorkerRestarts, running)) {
        const workerId = `${ctx.name}-w${task}`
        const [requeue, startNow] = SlurmStates.requeueCommands(jobId, task)
        const done = yield* commands.run({ program: "scontrol", args: requeue! }).pipe(
          Effect.as(true),
          Effect.catchAll((e) => Effect.as(Effect.logWarning(`could not requeue Slurm array task ${jobId}_${task} (worker ${workerId}): ${e.message}; it stays lost`), false))
        )
        if (!done) continue
        const used = (restarts.get(task) ?? 0) + 1
        restarts.set(task, used)
        tracked = SlurmStates.requeued(tracked, task)
        yield* ctx.coordinator.workerStarting(workerId)
        yield* Effect.logWarning(`worker ${workerId} lost (Slurm array task ${jobId}_${task} ${u.lost.find((t) => t.task === task)?.state}); requeued the task to restart it under the same id (${used} of ${ctx.maxWorkerRestarts})`)
        // Without it the task waits out Slurm's credential lifetime (2 minutes by default) first.
        yield* commands.run({ program: "scontrol", args: startNow! }).pipe(
          Effect.catchAll((e) => Effect.logDebug(`scontrol ${startNow!.join(" ")}: ${e.message} (the task starts when Slurm lets it)`))
        )
      }
      if ([...tracked.values()].every((t) => t.fate !== "live")) {
        yield* Effect.logDebug(`every task of Slurm job array ${jobId} has ended`)
        yield* Deferred.succeed(gone, undefined)
        return
      }
    }
  })
