import { Command, ValidationError } from "@effect/cli"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Effect } from "effect"
import * as ProcessExit from "../runtime/ProcessExit.ts"
import * as RunOptions from "../runtime/RunOptions.ts"
import * as CheckCommand from "./CheckCommand.ts"
import * as CompileCommand from "./CompileCommand.ts"
import * as GcCommand from "./GcCommand.ts"
import * as RunCommand from "./RunCommand.ts"
import * as WorkerCommand from "./WorkerCommand.ts"
import packageJson from "../package.json" with { type: "json" }

const zephyr = Command.make("zephyr").pipe(
  Command.withDescription("A typed dataflow engine for large batch data jobs"),
  Command.withSubcommands([RunCommand.command, CompileCommand.command, CheckCommand.command, WorkerCommand.command, GcCommand.command])
)

const cli = Command.run(zephyr, { name: "zephyr", version: packageJson.version })

/** Prints a failure as the user's sentence; @effect/cli has printed its own, with the usage. */
const report = (cause: Cause.Cause<unknown>) =>
  ValidationError.isValidationError(Cause.squash(cause)) ? Effect.void : ProcessExit.printFailure(cause)

/**
 * `--arg k=v` may be repeated anywhere on the line; @effect/cli wants the pairs together,
 * so they are moved to the end (in order) before parsing. `--dashboard` and
 * `--slurm-sbatch-arg` are rewritten into forms it parses.
 */
export const gatherArgs = (argv: ReadonlyArray<string>): Array<string> => {
  const rest: Array<string> = []
  const pairs: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    // `--dashboard[=PORT]`: a flag with an optional value, which @effect/cli cannot express
    if (a === "--dashboard") rest.push("--dashboard", /^\d+$/.test(argv[i + 1] ?? "") ? argv[++i]! : String(RunOptions.defaults.dashboardPort))
    else if (a.startsWith("--dashboard=")) rest.push("--dashboard", a.slice("--dashboard=".length))
    else if (a === "--arg" && i + 1 < argv.length) pairs.push("--arg", argv[++i]!)
    else if (a.startsWith("--arg=")) pairs.push("--arg", a.slice("--arg=".length))
    // An sbatch argument is itself an option (`--export=NONE`, `-Aproj`), which @effect/cli would
    // parse as one of ours or as clustered flags: it travels quoted (RunCommand unquotes it).
    else if (a === "--slurm-sbatch-arg" && i + 1 < argv.length) rest.push(a, RunCommand.quoteSbatchArg(argv[++i]!))
    else if (a.startsWith("--slurm-sbatch-arg=")) rest.push("--slurm-sbatch-arg", RunCommand.quoteSbatchArg(a.slice("--slurm-sbatch-arg=".length)))
    else rest.push(a)
  }
  return [...rest, ...pairs]
}

export const main = (argv: ReadonlyArray<string>) =>
  cli(gatherArgs(argv)).pipe(
    Effect.tapErrorCause(report),
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      disablePrettyLogger: true,
      teardown: ProcessExit.teardown
    })
  )
