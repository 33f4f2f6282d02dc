import { Schema } from "effect"

/** Where a DSL call was written in the user's module. */
export const SourceLocation = Schema.Struct({
  file: Schema.String,
  line: Schema.Number,
  column: Schema.Number
})
export type SourceLocation = typeof SourceLocation.Type

export const unknown: SourceLocation = { file: "<unknown>", line: 0, column: 0 }

export const format = (loc: SourceLocation): string => `${loc.file}:${loc.line}`
