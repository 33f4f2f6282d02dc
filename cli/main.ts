import { stripVTControlCharacters } from "node:util"
import { CliConfig, Command, HelpDoc, ValidationError } from "@effect/cli"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Cause, Console, Effect, Exit } from "effect"
import * as Ansi from "../runtime/Ansi.ts"
import * as ProcessExit from "../runtime/ProcessExit.ts"
import * as RunOptions from "../runtime/RunOptions.ts"
import * as StderrLogger from "../runtime/StderrLogger.ts"
import * as CheckCommand from "./CheckCommand.ts"
import * as CompileCommand from "./CompileCommand.ts"
import * as GcCommand from "./GcCommand.ts"
import * as OptionValues from "./OptionValues.ts"
import * as RunCommand from "./RunCommand.ts"
import { UsageError } from "./UsageError.ts"
import * as WorkerCommand from "./WorkerCommand.ts"
import packageJson from "../package.json" with { type: "json" }

const zephyr = Command.make("zephyr").pipe(
  Command.withDescription("A typed dataflow engine for large batch data jobs"),
  Command.withSubcommands([RunCommand.command, CompileCommand.command, CheckCommand.command, WorkerCommand.command, GcCommand.command])
)

/** What `zephyr` alone prints (on stderr, exit code 2). */
export const shortUsage = `Usage: zephyr <command> [options]

Commands:
  run <module.ts>                  run a pipeline module on worker processes
  compile <module.ts> --explain    print the plan of fused stages, run nothing
  check <module.ts>                run the static checks of a module only
  worker --coordinator HOST:PORT   start a worker that dials a coordinator
  gc                               remove old executions kept for --resume

Run \`zephyr <command> --help\` for its options, \`zephyr --version\` for the version.
`

/**
 * Options every command takes, handled here rather than by @effect/cli: its own
 * `--log-level` only reaches loggers that do not set their level themselves, and its
 * `--wizard` does not apply (its help lists neither: `showBuiltIns` is off, this lists them).
 */
const globalHelp = HelpDoc.blocks([
  HelpDoc.h1("GLOBAL OPTIONS"),
  HelpDoc.descriptionList([
    [Span.text(`--log-level ${StderrLogger.levelNames.join(" | ")}`), HelpDoc.p(`the least severe logs shown on stderr (default: info for run, warning otherwise; also $${StderrLogger.LEVEL_ENV})`)],
    [Span.text(`--log-format ${StderrLogger.formats.join(" | ")}`), HelpDoc.p(`json: one object per line, with execution, stage, shard, attempt and worker as fields (also $${StderrLogger.FORMAT_ENV})`)],
    [Span.text("-h, --help"), HelpDoc.p("this help; `zephyr <command> --help` for a command's")],
    [Span.text("--version"), HelpDoc.p("the version of zephyr")],
    [Span.text("--completions sh | bash | fish | zsh"), HelpDoc.p("a completion script for the shell")]
  ])
])

const cli = Command.run(zephyr, { name: "zephyr", version: packageJson.version, footer: globalHelp })


/** The command line without its global options, which it sets in the environment (workers inherit it). */
export interface CommandLine {
  readonly args: Array<string>
  readonly logLevel?: string | undefined
  readonly logFormat?: string | undefined
}

/**
 * Takes `--log-level L` and `--log-format F` (or `=L`) from anywhere on the line, and
 * refuses `--wizard`. Throws a UsageError for a missing or unknown value.
 */
export const globalOptions = (args: ReadonlyArray<string>): CommandLine => {
  const rest: Array<string> = []
  let logLevel: string | undefined
  let logFormat: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined]
    if (flag === "--log-level" || flag === "--log-format") {
      const value = inline ?? args[++i]
      if (value === undefined || value === "" || value.startsWith("-")) throw new UsageError(`${flag} needs a value: one of ${(flag === "--log-level" ? StderrLogger.levelNames : StderrLogger.formats).join(", ")}.`)
      if (flag === "--log-level") {
        if (StderrLogger.levelNamed(value) === undefined) throw new UsageError(`--log-level ${value}: unknown level; use one of ${StderrLogger.levelNames.join(", ")}.`)
        logLevel = value.toLowerCase()
      } else {
        if (!StderrLogger.formats.includes(value.toLowerCase() as StderrLogger.Format)) throw new UsageError(`--log-format ${value}: unknown format; use one of ${StderrLogger.formats.join(", ")}.`)
        logFormat = value.toLowerCase()
      }
    } else if (a === "--wizard") {
      throw new UsageError("--wizard: unknown option.")
    } else rest.push(a)
  }
  return { args: rest, logLevel, logFormat }
}

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

/** @effect/cli writes its help and errors with colours: plain text where they are not wanted. */
const plainWhereNeeded = (base: Console.Console): Console.Console => {
  const strip = (on: boolean) => (args: ReadonlyArray<any>): Array<any> => args.map((a) => (on && typeof a === "string" ? stripVTControlCharacters(a) : a))
  const out = strip(!Ansi.allowed(process.stdout))
  const err = strip(!Ansi.allowed(process.stderr))
  return {
    ...base,
    log: (...args) => base.log(...out(args)),
    info: (...args) => base.info(...out(args)),
    error: (...args) => base.error(...err(args)),
    warn: (...args) => base.warn(...err(args)),
    unsafe: {
      ...base.unsafe,
      log: (...args) => base.unsafe.log(...out(args)),
      info: (...args) => base.unsafe.info(...out(args)),
      error: (...args) => base.unsafe.error(...err(args)),
      warn: (...args) => base.unsafe.warn(...err(args))
    }
  }
}

/** A mistake on the command line: what @effect/cli refuses, and option values Zephyr refuses. */
export const isUsageError = (e: unknown): boolean =>
  ValidationError.isValidationError(e) || e instanceof UsageError ||
  (typeof e === "object" && e !== null && (e as { _tag?: unknown })._tag === "ZephyrPlanError" &&
    ((e as { reason?: unknown }).reason === "invalid-option" || (e as { reason?: unknown }).reason === "unknown-backend"))

/** 0 on success, 130 when interrupted, 2 for a usage error, 1 for any other failure. */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) && isUsageError(Cause.squash(exit.cause)) ? 2 : ProcessExit.codeOf(exit)

/** Prints a failure as the user's sentence; @effect/cli has printed its own, with the usage. */
const report = (cause: Cause.Cause<unknown>) =>
  ValidationError.isValidationError(Cause.squash(cause)) ? Effect.void : ProcessExit.printFailure(cause)

export const main = (argv: ReadonlyArray<string>) => {
  // Exits at once: worker processes and the checks' thread may have been started ahead (bin/zephyr.js).
  let line: CommandLine
  try {
    line = globalOptions(argv.slice(2))
  } catch (e) {
    process.stderr.write(`zephyr: ${(e as Error).message}\n\n${shortUsage}`)
    process.exit(2)
  }
  if (line.args.length === 0) {
    process.stderr.write(shortUsage)
    process.exit(2)
  }
  const args = gatherArgs([...argv.slice(0, 2), ...line.args])
  try {
    OptionValues.check(args.slice(2))
  } catch (e) {
    process.stderr.write(`zephyr: ${(e as Error).message}\n`)
    process.exit(2)
  }
  // Through the environment, the level and format reach every logger, and worker processes.
  if (line.logLevel !== undefined) process.env[StderrLogger.LEVEL_ENV] = line.logLevel
  if (line.logFormat !== undefined) process.env[StderrLogger.FORMAT_ENV] = line.logFormat
  Effect.consoleWith((console) => cli(args).pipe(Console.withConsole(plainWhereNeeded(console)))).pipe(
    Effect.tapErrorCause(report),
    Effect.provide(CliConfig.layer({ showBuiltIns: false })),
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      disablePrettyLogger: true,
      teardown: (exit, onExit) => onExit(exitCode(exit))
    })
  )
}
