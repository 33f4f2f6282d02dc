import * as path from "node:path"
import { Command, Options } from "@effect/cli"
import { Effect } from "effect"
import * as Check from "../compiler/analysis/Check.ts"
import * as Diagnostic from "../compiler/analysis/Diagnostic.ts"
import * as Report from "../compiler/analysis/Report.ts"
import type { CompiledPlan } from "../compiler/Compiler.ts"
import * as WorkerProcesses from "../runtime/launcher/WorkerProcesses.ts"
import * as Zephyr from "../Zephyr.ts"
import * as CommonOptions from "./CommonOptions.ts"
import * as OptionValues from "./OptionValues.ts"

/**
 * The static checks on the command line: `zephyr check` runs only them; `zephyr compile`
 * and `zephyr run` run them after building the plan (`--no-check` skips them) and fail on
 * an error-level diagnostic, `run` before any worker registers.
 */

/** `--no-check` skips the checks; `--check` (the default) is accepted for symmetry. */
export const noCheck = OptionValues.boolean(["run", "compile"], "no-check", { negationNames: ["check"] }).pipe(
  Options.withDescription("skip the static checks (type errors, captured state, non-determinism, imports workers cannot resolve)")
)

const format = OptionValues.choice("check", "format", ["text", "json"] as const).pipe(Options.withDefault("text" as const), Options.withDescription("diagnostics as text or as a JSON document"))

const write = (text: string, to: NodeJS.WriteStream) => Effect.promise(() => new Promise<void>((resolve) => to.write(text, () => resolve())))

/**
 * Starts the checks of a module (in their thread) before it is loaded, with the reading of
 * its code for the columns its readers need and for explain's advice; undefined for `--no-check`.
 */
export const start = (module: string, noCheck: boolean): Check.Pending | undefined =>
  noCheck ? undefined : Check.start([path.resolve(module)])

/**
 * The plan with what the checks' analysis found applied: its loads read only the columns its
 * functions read (ReadColumns), and combiners that only sum add in place (CombineSums).
 */
export const withAnalysis = <A, E, R>(checks: Check.Pending | undefined, plan: CompiledPlan<A, E, R>) =>
  checks === undefined ? Effect.succeed(plan) : Effect.promise(() => checks.refinements(plan.plan, plan.module)).pipe(Effect.map((r) => plan.withRefinements(r)))

/**
 * The diagnostics of a module's plan (from checks `start`ed before): printed (text) on
 * stderr, and a `failed-checks` failure on an error-level one, after stopping the worker
 * processes started ahead of the run, which then never register.
 */
export const finish = (checks: Check.Pending | undefined, module: string, plan: CompiledPlan<unknown, unknown, unknown>, refusedRun: boolean) =>
  Effect.gen(function* () {
    if (checks === undefined) return []
    const diagnostics = yield* Effect.tryPromise({ try: () => checks.diagnostics(plan.plan), catch: (e) => e })
    if (diagnostics.length > 0) yield* write(Report.text(diagnostics), process.stderr)
    if (Diagnostic.hasErrors(diagnostics)) {
      WorkerProcesses.releasePrestarted()
      return yield* Effect.fail(Check.failure(module, diagnostics, { refusedRun, detail: false }))
    }
    return diagnostics
  })

/** `zephyr check <module> [--format text|json]`: the checks only; exit code 1 on an error. */
export const command = Command.make(
  "check",
  { module: CommonOptions.module, format, export: CommonOptions.exportName, args: CommonOptions.args },
  (o) =>
    Effect.gen(function* () {
      const diagnostics = yield* Effect.tryPromise({ try: () => Zephyr.check(o.module, { export: o.export, args: o.args }), catch: (e) => e })
      if (o.format === "json") yield* write(Report.json(o.module, diagnostics), process.stdout)
      else yield* write(`${Report.text(diagnostics)}${o.module}: ${Report.summary(diagnostics)}\n`, process.stdout)
      if (Diagnostic.hasErrors(diagnostics)) yield* Effect.fail(Check.failure(o.module, diagnostics, { refusedRun: false, detail: false }))
    })
).pipe(Command.withDescription("Check a pipeline module statically (types, captured state, non-determinism, imports), without running it"))
