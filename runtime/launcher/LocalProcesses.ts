import type { ChildProcess } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as readline from "node:readline"
import { Deferred, Effect, Runtime } from "effect"
import { ZephyrInfraError } from "../../plan/Errors.ts"
import * as Transport from "../../rpc/Transport.ts"
import * as StderrLogger from "../StderrLogger.ts"
import type { Assignment } from "../worker/LocalWorkerProcess.ts"
import type { Launcher } from "./Launcher.ts"
import * as WorkerProcesses from "./WorkerProcesses.ts"

/** How long a worker gets to exit after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 2_000

export interface Options {
  /** Extra environment for the worker processes. */
  readonly env?: Readonly<Record<string, string>> | undefined
  /** Prefix each worker's stderr line with its id. */
  readonly forwardStderr?: boolean | undefined
}

/**
 * N worker processes on this machine (dist/worker.js, see WorkerProcesses), each importing
 * the pipeline module and proving its plan's fingerprint; processes started ahead of the run
 * are taken first. The coordinator learns at once when one exits; a worker that dies is
 * restarted under the same id (as an actor is after preemption) up to `maxWorkerRestarts`
 * times. Every process is killed when the pool's scope closes: on success, failure and
 * interruption (Ctrl-C).
 */
export const make = (options: Options = {}): Launcher => ({
  name: "local",
  start: (ctx) =>
    Effect.gen(function* () {
      if (!ctx.spec.module) {
        return yield* Effect.fail(new ZephyrInfraError({
          reason: "unsupported-backend",
          message: "The local backend starts worker processes that rebuild the pipeline from its module, but this dataset was built in the calling process. Use Zephyr.runModule(path) (or the CLI), or the in-process backend.",
          retryable: false
        }))
      }
      if (ctx.layer) {
        return yield* Effect.fail(new ZephyrInfraError({
          reason: "unsupported-backend",
          message: "The `layer` option cannot travel to worker processes: export `layer` from the pipeline module (worker processes build it themselves), or run with backend \"in-process\".",
          retryable: false
        }))
      }
      // Only this pool's processes may call: they get the token on stdin, never in argv or the environment.
      const token = randomBytes(24).toString("base64url")
      const address = yield* Transport.serveTcp(ctx.coordinator.handlers, { token, maxFrameBytes: ctx.spec.maxMessageBytes }).pipe(
        Effect.mapError((e) => new ZephyrInfraError({ reason: "listen-failed", message: `Could not start the coordinator's server: ${e.message}`, retryable: true }))
      )
      const runtime = yield* Effect.runtime<never>()
      const runFork = Runtime.runFork(runtime)
      const gone = yield* Deferred.make<void>()
      const children = new Map<string, ChildProcess>()
      const restarts = new Map<string, number>()
      let closing = false
      let finished = 0

      const modulePath = ctx.spec.module.path
      const launch = (workerId: string, first: boolean): void => {
        const child = (first && !options.env ? WorkerProcesses.takePrestarted(modulePath) : undefined) ?? WorkerProcesses.spawnWorker(options.env ?? {}, modulePath, ctx.spec.memoryBudgetBytes, ctx.workers)
        child.stdin?.on("error", () => undefined) // a worker that died before reading it
        const assignment: Assignment = {
          coordinator: `${address.host}:${address.port}`, token, workerId,
          logLevel: process.env[StderrLogger.LEVEL_ENV], logFormat: process.env[StderrLogger.FORMAT_ENV]
        }
        child.stdin?.write(`${JSON.stringify(assignment)}\n`)
        children.set(workerId, child)
        runFork(ctx.coordinator.workerStarting(workerId))
        let heapMessage = false
        if (child.stderr) {
          const lines = readline.createInterface({ input: child.stderr })
          lines.on("line", (line) => {
            if (WorkerProcesses.isOutOfMemoryMessage(line)) heapMessage = true
            if (options.forwardStderr !== false) process.stderr.write(StderrLogger.workerLine(workerId, line))
          })
        }
        child.on("exit", (code, signal) => {
          children.delete(workerId)
          if (closing) return
          const clean = code === 0
          const outOfMemory = !clean && (heapMessage || WorkerProcesses.isOutOfMemoryExit(code, signal))
          const reason = `${signal ? `killed by ${signal}` : `exit code ${code}`}${outOfMemory ? `: out of memory (V8 heap limit ${WorkerProcesses.heapMegabytes(ctx.spec.memoryBudgetBytes)} MB)` : ""}`
          if (!clean) runFork(ctx.coordinator.workerExited(workerId, `process ${child.pid} ${reason}`, outOfMemory))
          const used = restarts.get(workerId) ?? 0
          const failed = ctx.coordinator.scheduler.fatal !== undefined
          const outcome = ctx.coordinator.scheduler.outcome().kind
          if (!clean && !failed && outcome === "running" && used < ctx.maxWorkerRestarts) {
            restarts.set(workerId, used + 1)
            runFork(Effect.logWarning(`worker ${workerId} ${reason}; restarting it (${used + 1} of ${ctx.maxWorkerRestarts})`))
            launch(workerId, false)
            return
          }
          if (++finished === ctx.workers) runFork(Deferred.succeed(gone, undefined))
        })
      }

      yield* Effect.acquireRelease(
        Effect.sync(() => {
          for (let i = 0; i < ctx.workers; i++) launch(`${ctx.name}-w${i}`, true)
          WorkerProcesses.releasePrestarted()
        }),
        () => Effect.promise(() => stopAll())
      )

      const stopAll = async (): Promise<void> => {
        closing = true
        const alive = [...children.values()].filter((c) => c.exitCode === null && c.signalCode === null)
        await Promise.all(alive.map((c) => new Promise<void>((resolve) => {
          const timer = setTimeout(() => { c.kill("SIGKILL") }, KILL_GRACE_MS)
          c.once("exit", () => { clearTimeout(timer); resolve() })
          c.kill("SIGTERM")
          c.kill("SIGCONT") // a stopped process only acts on SIGTERM once it runs again
        })))
      }

      return {
        gone: Deferred.await(gone),
        pids: () => [...children.entries()].map(([id, c]) => ({ id, pid: c.pid }))
      }
    })
})

export const launcher: Launcher = make()
