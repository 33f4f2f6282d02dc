import { Command, Options } from "@effect/cli"
import { Option } from "effect"
import { TOKEN_ENV } from "../runtime/RunOptions.ts"
import * as OptionValues from "./OptionValues.ts"
import * as WorkerProgram from "./WorkerProgram.ts"

const coordinator = OptionValues.text(["worker"], "coordinator").pipe(Options.withDescription("HOST:PORT of the coordinator to dial"))
const token = OptionValues.text(["worker"], "token").pipe(
  Options.optional,
  Options.map(Option.getOrUndefined),
  Options.withDescription(`the token the coordinator expects (default: $${TOKEN_ENV}, which is better: arguments show in ps)`)
)
const reconnectTimeout = OptionValues.text(["worker"], "reconnect-timeout").pipe(
  Options.optional,
  Options.map(Option.getOrUndefined),
  Options.withDescription("after the connection to the coordinator broke, dial again this long (e.g. 2m; default: the run's --reconnect-timeout, 60s unless set; 0: never)")
)
const workerId = OptionValues.text(["worker"], "worker-id").pipe(Options.optional, Options.map(Option.getOrUndefined), Options.withDescription("a stable id (a restarted worker reuses it)"))

/** `zephyr worker --coordinator HOST:PORT` with the token in $ZEPHYR_TOKEN (or --token T): a worker that dials a coordinator. */
export const command = Command.make("worker", { coordinator, token, workerId, reconnectTimeout }, WorkerProgram.run)
  .pipe(Command.withDescription("Start a worker that dials a coordinator and runs its tasks"))
