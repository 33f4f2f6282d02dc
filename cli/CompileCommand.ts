import { Command, Options } from "@effect/cli"
import { Console, Effect, Schema } from "effect"
import * as Advice from "../compiler/analysis/Advice.ts"
import * as Check from "../compiler/analysis/Check.ts"
import * as Diagnostic from "../compiler/analysis/Diagnostic.ts"
import * as Report from "../compiler/analysis/Report.ts"
import * as Explain from "../compiler/explain/index.ts"
import * as Zephyr from "../Zephyr.ts"
import * as Pipeline from "../Pipeline.ts"
import * as CheckCommand from "./CheckCommand.ts"
import * as CommonOptions from "./CommonOptions.ts"
import * as OptionValues from "./OptionValues.ts"

const explain = OptionValues.boolean(["compile"], "explain").pipe(Options.withDescription("print the plan (stages, ops with source lines, boundaries) and advice on it"))
const format = OptionValues.choice("compile", "format", Explain.formats).pipe(Options.withDefault("text" as const), Options.withDescription("explain format (json also prints the diagnostics as JSON)"))

const write = (text: string, to: NodeJS.WriteStream) => Effect.promise(() => new Promise<void>((resolve) => to.write(text, () => resolve())))

/**
 * `zephyr compile <module> [--explain] [--format text|json|dot]`: prints the plan and the
 * module's diagnostics, runs nothing; fails on an error-level diagnostic (`--no-check`
 * skips the checks). Text diagnostics go to stderr; with `--format json` they are part of
 * the document on stdout (`diagnostics`: the explain document's, or `zephyr check`'s).
 * `--explain` adds the advice to the plan (text and JSON, `advice`); advice never fails
 * the command, and under `--no-check` only the advice that needs no code analysis is given.
 */
export const command = Command.make(
  "compile",
  { module: CommonOptions.module, explain, format, export: CommonOptions.exportName, args: CommonOptions.args, noCheck: CheckCommand.noCheck },
  (o) =>
    Effect.gen(function* () {
      const checks = CheckCommand.start(o.module, o.noCheck)
      const loaded = yield* Effect.tryPromise({ try: () => Pipeline.load(o.module, { export: o.export, args: o.args }), catch: (e) => e })
      const compiled = yield* Effect.try({ try: () => Zephyr.compile(loaded.dataset, { module: loaded.module }), catch: (e) => e })
      // What a run does: explain shows the columns its loads read and the sums its combiners add in place.
      const plan = o.explain ? yield* CheckCommand.withAnalysis(checks, compiled) : compiled
      const diagnostics = checks === undefined ? [] : yield* Effect.tryPromise({ try: () => checks.diagnostics(plan.plan), catch: (e) => e })
      const advice: ReadonlyArray<Advice.Advice> = !o.explain ? [] : checks === undefined ? Check.advise(plan.plan, []) : yield* Effect.promise(() => checks.advice(plan.plan))
      if (o.format === "json") {
        const encoded = Schema.encodeSync(Diagnostic.Diagnostics)(diagnostics)
        if (o.explain) yield* write(JSON.stringify({ ...JSON.parse(plan.explain("json", advice)), diagnostics: encoded }, null, 2) + "\n", process.stdout)
        else yield* write(Report.json(o.module, diagnostics), process.stdout)
      } else {
        if (diagnostics.length > 0) yield* write(Report.text(diagnostics), process.stderr)
        if (o.explain) yield* write(plan.explain(o.format, advice), process.stdout)
        else yield* Console.log(`${o.module}: ${plan.stages.length} stage(s), fingerprint ${plan.fingerprint}, ${o.noCheck ? "not checked" : Report.summary(diagnostics)} (add --explain to see the plan)`)
      }
      if (Diagnostic.hasErrors(diagnostics)) yield* Effect.fail(Check.failure(o.module, diagnostics, { refusedRun: false, detail: false }))
    })
).pipe(Command.withDescription("Compile a pipeline module into a plan of fused stages and check it, without running it"))
