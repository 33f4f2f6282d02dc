import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, LogLevel } from "effect"
import * as ModuleLoader from "../../compiler/ModuleLoader.ts"
import * as ProcessExit from "../ProcessExit.ts"
import * as Logging from "../StderrLogger.ts"
import * as RemoteWorker from "./RemoteWorker.ts"

/**
 * The program of a worker process that the local launcher starts (dist/worker.js). It is
 * started before its coordinator exists, while the driver is still planning: it loads the
 * engine and imports the pipeline module (`ZEPHYR_PRELOAD_MODULE`) meanwhile, then waits
 * for one line on stdin naming the coordinator, its token and its worker id. The token
 * never shows in the process list. When the driver goes away, so does stdin, and so does
 * the worker.
 */
export interface Assignment {
  readonly coordinator: string
  readonly token: string
  readonly workerId: string
  /** The driver's `--log-level` and `--log-format` (a worker started ahead of them did not inherit them). */
  readonly logLevel?: string | undefined
  readonly logFormat?: string | undefined
}

const preload = process.env.ZEPHYR_PRELOAD_MODULE
// Errors are the real load's to report, after Hello, as a clear abort of the run.
if (preload) ModuleLoader.preload(preload)

const assignment = new Promise<Assignment>((resolve) => {
  let received: string | undefined = ""
  process.stdin.on("data", (data: Buffer) => {
    if (received === undefined) return
    received += data.toString("utf8")
    const end = received.indexOf("\n")
    if (end < 0) return
    resolve(JSON.parse(received.slice(0, end)) as Assignment)
    received = undefined
    // Still watched, but no reason to stay alive: a worker told to shut down exits at once.
    ;(process.stdin as { unref?: () => void }).unref?.()
  })
  // The driver's end of the pipe closes when it exits, however it exits.
  process.stdin.on("end", () => process.exit(3))
})

const program = Effect.gen(function* () {
  const a = yield* Effect.promise(() => assignment)
  if (a.logLevel) process.env[Logging.LEVEL_ENV] = a.logLevel
  if (a.logFormat) process.env[Logging.FORMAT_ENV] = a.logFormat
  const driver = Number(process.env.ZEPHYR_DRIVER_PID)
  if (driver > 0) yield* RemoteWorker.exitWhenDriverGone(driver)
  yield* RemoteWorker.run({ coordinator: a.coordinator, workerId: a.workerId, token: a.token }).pipe(
    Effect.annotateLogs("worker", a.workerId),
    Logging.withStderr(Logging.levelFromEnv(LogLevel.Warning))
  )
}).pipe(
  Effect.tapErrorCause(ProcessExit.printFailure)
)

NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  disablePrettyLogger: true,
  teardown: ProcessExit.exitAtOnce
})
