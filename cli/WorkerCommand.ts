import * as os from "node:os"
import { Command, Options } from "@effect/cli"
import { Effect, LogLevel, Option } from "effect"
import { ZephyrPlanError } from "../plan/Errors.ts"
import { parseDuration, TOKEN_ENV } from "../runtime/RunOptions.ts"
import * as RemoteWorker from "../runtime/worker/RemoteWorker.ts"
import * as Logging from "../runtime/StderrLogger.ts"

const coordinator = Options.text("coordinator").pipe(Options.withDescription("HOST:PORT of the coordinator to dial"))
const token = Options.text("token").pipe(
  Options.optional,
  Options.map(Option.getOrUndefined),
  Options.withDescription(`the token the coordinator expects (default: $${TOKEN_ENV}, which is better: arguments show in ps)`)
)
const reconnectTimeout = Options.text("reconnect-timeout").pipe(
  Options.optional,
  Options.map(Option.getOrUndefined),
  Options.withDescription("after the connection to the coordinator broke, dial again this long (e.g. 2m; default: the run's --reconnect-timeout, 60s unless set; 0: never)")
)
const workerId = Options.text("worker-id").pipe(Options.optional, Options.map(Option.getOrUndefined), Options.withDescription("a stable id (a restarted worker reuses it)"))

/** `zephyr worker --coordinator HOST:PORT` with the token in $ZEPHYR_TOKEN (or --token T): a worker that dials a coordinator. */
export const command = Command.make("worker", { coordinator, token, workerId, reconnectTimeout }, (o) =>
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
).pipe(Command.withDescription("Start a worker that dials a coordinator and runs its tasks"))
