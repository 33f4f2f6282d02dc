import { Schema } from "effect"
import { SourceLocation } from "./SourceLocation.ts"

/**
 * Where a pipeline's shards come from. A list source makes one shard per item (the items
 * themselves stay in the compiled plan's implementation table, under `id`); a file source
 * makes one shard per matching file, expanded when the run starts.
 */
export const ListSource = Schema.Struct({
  id: Schema.String,
  kind: Schema.Literal("list"),
  method: Schema.Literal("fromList", "fromIterable"),
  count: Schema.Number,
  source: SourceLocation
})

export const FileSource = Schema.Struct({
  id: Schema.String,
  kind: Schema.Literal("files"),
  method: Schema.String,
  pattern: Schema.String,
  emptyGlobOk: Schema.Boolean,
  source: SourceLocation
})

export const Source = Schema.Union(ListSource, FileSource)
export type Source = typeof Source.Type

export const describe = (s: Source): string =>
  s.kind === "list" ? `${s.method}(${s.count} item${s.count === 1 ? "" : "s"})` : `${s.method}(${JSON.stringify(s.pattern)})`
