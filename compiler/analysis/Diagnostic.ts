import { Schema } from "effect"

/**
 * A finding of the static checks of a pipeline module (compiler/analysis/), as data: what
 * is wrong (`code`, `message`), how bad (`severity`), where (`file:line:column`, 1-based,
 * `file` as explain shows it), how to fix it (`hint`), and the plan op of the DSL call it
 * concerns (`op`), when there is one.
 */

export const Code = Schema.Literal(
  /** A user function reads a `let`/`var` that the builder reassigns after the DSL call. */
  "captured-mutable",
  /** A user function assigns a variable (or a field of an object) declared outside it. */
  "module-state-write",
  /** `Math.random()`, `Date.now()`... in a key, sortBy or output-path function. */
  "nondeterministic-key",
  /** The same in a reducer, combiner, reduce or windowBy fold. */
  "nondeterministic-reducer",
  /** The same while the pipeline is built (module top level, the exported builder). */
  "nondeterministic-builder",
  /** `process.env` read while building, or in a key or reducer function. */
  "env-read",
  /** The item type at a stage boundary holds values msgpack does not carry as they are. */
  "lossy-boundary-type",
  /** An import the worker processes cannot resolve from the module. */
  "unresolvable-import",
  /** `import(...)` of a path computed at run time. */
  "computed-dynamic-import",
  /** A TypeScript type error in the module or its local imports. */
  "type-error",
  /** A TypeScript syntax error. */
  "syntax-error"
)
export type Code = typeof Code.Type

export const codes: ReadonlyArray<Code> = Code.literals

export const Severity = Schema.Literal("error", "warning")
export type Severity = typeof Severity.Type

export const Diagnostic = Schema.Struct({
  code: Code,
  severity: Severity,
  message: Schema.String,
  file: Schema.String,
  line: Schema.Number,
  column: Schema.Number,
  hint: Schema.String,
  /** The id of the plan op whose DSL call this is about (`o3`), when the plan has it. */
  op: Schema.optional(Schema.String)
})
export type Diagnostic = typeof Diagnostic.Type

export const Diagnostics = Schema.Array(Diagnostic)

export const isError = (d: Diagnostic): boolean => d.severity === "error"

export const hasErrors = (ds: ReadonlyArray<Diagnostic>): boolean => ds.some(isError)

/** By file, line, column, then code: the order they are printed in. */
export const order = (a: Diagnostic, b: Diagnostic): number =>
  a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.code.localeCompare(b.code) || a.message.localeCompare(b.message)

export const location = (d: Pick<Diagnostic, "file" | "line" | "column">): string => `${d.file}:${d.line}:${d.column}`
