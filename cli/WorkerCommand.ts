import * as os from "node:os"
import { Command, Options } from "@effect/cli"
import { Effect, LogLevel, Option } from "effect"
import * as RemoteWorker from "../runtime/worker/RemoteWorker.ts"
import * as Logging from "../runtime/StderrLogger.ts"

const coordinator = Options.text("coordinator").pipe(Options.withDescription("HOST:PORT of the coordinator to dial"))
const token = Options.text("token").pipe(Options.withDefault(""), Options.withDescription("the token the coordinator expects"))
const workerId = Options.text("worker-id").pipe(Options.optional, Options.map(Option.getOrUndefined), Options.withDescription("a stable id (a restarted worker reuses it)"))

/** Exits when the process that started us is gone, so a killed driver leaves no orphans. */
const watchParent = Effect.sync(() => {
  const parent = process.ppid
  const timer = setInterval(() => { if (process.ppid !== parent) process.exit(3) }, 1_000)
  timer.unref()
})

/** `zephyr worker --coordinator HOST:PORT [--token T]`: a worker that dials a coordinator. */
export const command = Command.make("worker", { coordinator, token, workerId }, (o) =>
  Effect.gen(function* () {
    if (process.env.ZEPHYR_WORKER === "1") yield* watchParent
    const id = o.workerId ?? `${os.hostname()}-${process.pid}`
    yield* RemoteWorker.run({ coordinator: o.coordinator, workerId: id, token: o.token }).pipe(
      Logging.withStderr(Logging.levelFromEnv(LogLevel.Warning))
    )
  })
).pipe(Command.withDescription("Start a worker that dials a coordinator and runs its tasks"))
