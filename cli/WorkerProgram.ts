import * as os from "node:os"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, LogLevel } from "effect"
import { ZephyrPlanError } from "../plan/Errors.ts"
import * as ProcessExit from "../runtime/ProcessExit.ts"
import { parseDuration, TOKEN_ENV } from "../runtime/RunOptions.ts"
import * as Logging from "../runtime/StderrLogger.ts"
import * as RemoteWorker from "../runtime/worker/RemoteWorker.ts"

/**
 * The program of `zephyr worker` (WorkerCommand parses its options), and a way to start it
 * without loading the command-line parser: bin/zephyr.js runs a plain `zephyr worker` line
 * through `startFromCommandLine` (dist/worker-command.js), so a worker registers about
 * 60 ms sooner. Anything else on the line (--help, a flag it does not know, a missing or bad
 * value, no token) goes to the full command line, which explains it.
 */
export interface WorkerOptions {
  readonly coordinator: string
  readonly token?: string | undefined
  readonly workerId?: string | undefined
  readonly reconnectTimeout?: string | undefined
}

/** Dials the coordinator and runs its tasks until it lets the worker go. */
export const run = (o: WorkerOptions) =>
  Effect.gen(function* () {
    const secret = o.token || process.env[TOKEN_ENV] || undefined
    if (secret === undefined) {
      return yield* Effect.fail(new ZephyrPlanError({ reason: "invalid-option", message: `zephyr worker needs the coordinator's token: set $${TOKEN_ENV} (or pass --token, which shows in the process list).` }))
    }
    const driver = Number(process.env.ZEPHYR_DRIVER_PID)
    if (driver > 0) yield* RemoteWorker.exitWhenDriverGone(driver)
    const id = o.workerId ?? `${os.hostname()}-${process.pid}`
    const reconnectTimeoutMs = o.reconnectTimeout === undefined ? undefined : yield* Effect.try({ try: () => parseDuration("--reconnect-timeout", o.reconnectTimeout!), catch: (e) => e })
    yield* RemoteWorker.run({ coordinator: o.coordinator, workerId: id, token: secret, reconnectTimeoutMs }).pipe(
      Logging.withStderr(Logging.levelFromEnv(LogLevel.Warning))
    )
  })

const flags: Record<string, keyof WorkerOptions> = {
  "--coordinator": "coordinator", "--token": "token", "--worker-id": "workerId", "--reconnect-timeout": "reconnectTimeout"
}

/** The options of `zephyr worker ARGS` when the line is plain and complete; undefined otherwise. */
export const plainOptions = (args: ReadonlyArray<string>): WorkerOptions | undefined => {
  const o: Partial<Record<keyof WorkerOptions, string>> = {}
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const eq = a.indexOf("=")
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined]
    const key = Object.hasOwn(flags, flag) ? flags[flag] : undefined
    if (key === undefined || o[key] !== undefined) return undefined
    const value = inline ?? args[++i]
    if (value === undefined || value === "" || value.startsWith("-")) return undefined
    o[key] = value
  }
  if (o.coordinator === undefined || !(o.token || process.env[TOKEN_ENV])) return undefined
  if (o.reconnectTimeout !== undefined) {
    try { parseDuration("--reconnect-timeout", o.reconnectTimeout) } catch { return undefined }
  }
  return o as WorkerOptions
}

/** Starts the worker when the line is plain; false: the full command line must handle it. */
export const startFromCommandLine = (args: ReadonlyArray<string>): boolean => {
  const options = plainOptions(args)
  if (options === undefined) return false
  NodeRuntime.runMain(run(options).pipe(Effect.tapErrorCause(ProcessExit.printFailure)), {
    disableErrorReporting: true,
    disablePrettyLogger: true,
    teardown: ProcessExit.exitAtOnce
  })
  return true
}
