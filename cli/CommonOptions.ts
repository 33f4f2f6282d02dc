import { Args, Options } from "@effect/cli"
import { HashMap, Option } from "effect"
import * as OptionValues from "./OptionValues.ts"

export const module = Args.file({ name: "module", exists: "yes" }).pipe(Args.withDescription("pipeline module (.ts)"))

export const exportName = OptionValues.text(["run", "compile", "check"], "export").pipe(
  Options.optional,
  Options.map(Option.getOrUndefined),
  Options.withDescription("the module export to use (default: the default export)")
)

export const args = OptionValues.keyValueMap(["run", "compile", "check"], "arg").pipe(
  Options.optional,
  Options.map((m) => Object.fromEntries(Option.match(m, { onNone: () => [], onSome: (h) => [...HashMap.toEntries(h)] })) as Record<string, string>),
  Options.withDescription("an argument for the pipeline function, k=v (repeatable)")
)
