import type * as Advice from "../analysis/Advice.ts"
import type * as Plan from "../../plan/Plan.ts"
import * as Dot from "./Dot.ts"
import * as Json from "./Json.ts"
import * as Text from "./Text.ts"

export type Format = "text" | "json" | "dot"
export const formats: ReadonlyArray<Format> = ["text", "json", "dot"]

/** The plan in `format`; with `advice` (Check.advice), text and JSON show it too. */
export const render = (plan: Plan.Plan, format: Format, advice?: ReadonlyArray<Advice.Advice>): string => {
  switch (format) {
    case "text": return Text.render(plan, advice)
    case "json": return Json.render(plan, advice)
    case "dot": return Dot.render(plan)
    default: throw new Error(`Unknown explain format ${JSON.stringify(format)}: use text, json or dot.`)
  }
}

export { Dot, Json, Text }
