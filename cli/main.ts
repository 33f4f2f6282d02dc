import { Command } from "@effect/cli"
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Effect } from "effect"
import * as CompileCommand from "./CompileCommand.ts"
import * as RunCommand from "./RunCommand.ts"
import * as WorkerCommand from "./WorkerCommand.ts"

const zephyr = Command.make("zephyr").pipe(
  Command.withDescription("A typed dataflow engine for large batch data jobs"),
  Command.withSubcommands([RunCommand.command, CompileCommand.command, WorkerCommand.command])
)

const cli = Command.run(zephyr, { name: "zephyr", version: "0.1.0" })

/** Prints a failure as the user's sentence (no stack of ours) and exits non-zero. */
const report = (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    const failure = Cause.squash(cause) as { message?: string; _tag?: string }
    if (failure && typeof failure === "object" && "_tag" in failure && String(failure._tag).startsWith("Validation")) return
    process.stderr.write(`zephyr: ${failure?.message ?? String(failure)}\n`)
  })

export const main = (argv: ReadonlyArray<string>) =>
  cli(argv).pipe(
    Effect.tapErrorCause((cause) => (Cause.isInterruptedOnly(cause) ? Effect.void : report(cause))),
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
  )
