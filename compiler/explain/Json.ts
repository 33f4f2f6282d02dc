import { Schema } from "effect"
import * as Plan from "../../plan/Plan.ts"

/** The versioned JSON document of API.md section 6: the plan, encoded with its Schema. */
export const render = (plan: Plan.Plan): string => JSON.stringify(Schema.encodeSync(Plan.Plan)(plan), null, 2) + "\n"

export const parse = (text: string): Plan.Plan => Schema.decodeUnknownSync(Plan.Plan)(JSON.parse(text))
