import { Command, Options } from "@effect/cli"
import { Console, Effect } from "effect"
import * as Explain from "../compiler/explain/index.ts"
import * as Zephyr from "../Zephyr.ts"
import * as Pipeline from "../Pipeline.ts"
import * as CommonOptions from "./CommonOptions.ts"

const explain = Options.boolean("explain").pipe(Options.withDescription("print the plan: stages, ops with source lines, boundaries"))
const format = Options.choice("format", Explain.formats).pipe(Options.withDefault("text" as const), Options.withDescription("explain format"))

/** `zephyr compile <module> --explain [--format text|json|dot]`: prints the plan, runs nothing. */
export const command = Command.make(
  "compile",
  { module: CommonOptions.module, explain, format, export: CommonOptions.exportName, args: CommonOptions.args },
  (o) =>
    Effect.gen(function* () {
      const loaded = yield* Effect.tryPromise({ try: () => Pipeline.load(o.module, { export: o.export, args: o.args }), catch: (e) => e })
      const plan = yield* Effect.try({ try: () => Zephyr.compile(loaded.dataset, { module: loaded.module }), catch: (e) => e })
      if (o.explain) yield* Effect.sync(() => process.stdout.write(plan.explain(o.format)))
      else yield* Console.log(`${o.module}: ${plan.stages.length} stage(s), fingerprint ${plan.fingerprint} (add --explain to see the plan)`)
    })
).pipe(Command.withDescription("Compile a pipeline module into a plan of fused stages, without running it"))
