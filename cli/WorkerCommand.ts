import * as os from "node:os"
import { Command, Options } from "@effect/cli"
import { Effect, LogLevel, Option } from "effect"
import * as RemoteWorker from "../runtime/worker/RemoteWorker.ts"
import * as Logging from "../runtime/StderrLogger.ts"

const coordinator = Options.text("coordinator").pipe(Options.withDescription("HOST:PORT of the coordinator to dial"))
const token = Options.text("token").pipe(Options.withDefault(""), Options.withDescription("the token the coordinator expects"))
const workerId = Options.text("worker-id").pipe(Options.optional, Options.map(Option.getOrUndefined), Options.withDescription("a stable id (a restarted worker reuses it)"))

/** `zephyr worker --coordinator HOST:PORT [--token T]`: a worker that dials a coordinator. */
export const command = Command.make("worker", { coordinator, token, workerId }, (o) =>
  Effect.gen(function* () {
    const driver = Number(process.env.ZEPHYR_DRIVER_PID)
    if (driver > 0) yield* RemoteWorker.exitWhenDriverGone(driver)
    const id = o.workerId ?? `${os.hostname()}-${process.pid}`
    yield* RemoteWorker.run({ coordinator: o.coordinator, workerId: id, token: o.token }).pipe(
      Logging.withStderr(Logging.levelFromEnv(LogLevel.Warning))
    )
  })
).pipe(Command.withDescription("Start a worker that dials a coordinator and runs its tasks"))
