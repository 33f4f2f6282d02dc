import { Schema } from "effect"
import * as Advice from "../analysis/Advice.ts"
import * as Plan from "../../plan/Plan.ts"

/**
 * The versioned JSON document of API.md section 6: the plan, encoded with its Schema, and,
 * when explain computed it, the advice (`advice`: an array, empty for none).
 */
export const render = (plan: Plan.Plan, advice?: ReadonlyArray<Advice.Advice>): string => {
  const document = Schema.encodeSync(Plan.Plan)(plan)
  return JSON.stringify(advice === undefined ? document : { ...document, advice: Schema.encodeSync(Advice.Advices)(advice) }, null, 2) + "\n"
}

export const parse = (text: string): Plan.Plan => Schema.decodeUnknownSync(Plan.Plan)(JSON.parse(text))
