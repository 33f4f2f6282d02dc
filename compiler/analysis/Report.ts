import { Schema } from "effect"
import * as Diagnostic from "./Diagnostic.ts"

/**
 * How diagnostics are printed: text (one finding per line, its hint indented under it,
 * like a compiler's) and a versioned JSON document (`zephyr check --format json`).
 */

export const Document = Schema.Struct({
  version: Schema.Literal(1),
  module: Schema.String,
  errors: Schema.Number,
  warnings: Schema.Number,
  diagnostics: Diagnostic.Diagnostics
})
export type Document = typeof Document.Type

const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`

/** `1 error, 2 warnings`, or `no problems`. */
export const summary = (ds: ReadonlyArray<Diagnostic.Diagnostic>): string => {
  const errors = ds.filter(Diagnostic.isError).length
  const warnings = ds.length - errors
  if (ds.length === 0) return "no problems"
  return [errors > 0 ? count(errors, "error") : "", warnings > 0 ? count(warnings, "warning") : ""].filter(Boolean).join(", ")
}

export const line = (d: Diagnostic.Diagnostic): string =>
  `${Diagnostic.location(d)}  ${d.severity}  ${d.code}  ${d.message}\n    hint: ${d.hint}\n`

/** Every diagnostic, in order; nothing for none. */
export const text = (ds: ReadonlyArray<Diagnostic.Diagnostic>): string => [...ds].sort(Diagnostic.order).map(line).join("")

export const document = (module: string, ds: ReadonlyArray<Diagnostic.Diagnostic>): Document => {
  const sorted = [...ds].sort(Diagnostic.order)
  const errors = sorted.filter(Diagnostic.isError).length
  return { version: 1, module, errors, warnings: sorted.length - errors, diagnostics: sorted }
}

export const json = (module: string, ds: ReadonlyArray<Diagnostic.Diagnostic>): string =>
  JSON.stringify(Schema.encodeSync(Document)(document(module, ds)), null, 2) + "\n"
