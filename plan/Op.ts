import { Schema } from "effect"
import { Expr } from "./Expr.ts"
import { elementWiseKinds as elementWiseKindList, loadKinds, OpKind } from "./OpKind.ts"
import { SourceLocation } from "./SourceLocation.ts"

/**
 * One operation of the plan. `kind` is the DSL method that created it (all writers are
 * `write` with a `format`); `name` is the user function's name when it has one; `source`
 * is the line of the DSL call. User functions are not part of the IR: the runtime finds
 * them in the compiled plan's implementation table by `id`.
 */
const head = <K extends ReadonlyArray<OpKind>>(...kinds: K) => ({
  id: Schema.String,
  kind: Schema.Literal(...kinds),
  name: Schema.NullOr(Schema.String),
  source: SourceLocation
})

export const LoadFormat = Schema.Literal("auto", "jsonl", "parquet", "text", "csv")
export type LoadFormat = typeof LoadFormat.Type
export const WriteFormat = Schema.Literal("jsonl", "parquet", "text", "csv")
export type WriteFormat = typeof WriteFormat.Type
export const BadRowPolicy = Schema.Literal("fail", "skip", "quarantine")
export type BadRowPolicy = typeof BadRowPolicy.Type

export const Load = Schema.Struct({
  ...head(...loadKinds),
  format: LoadFormat,
  /**
   * Columns the reader must read (a pushed-down `select` plus what pushed filters read, or
   * what the stage's functions read: `columnsInferred`); null: all.
   */
  columns: Schema.NullOr(Schema.Array(Schema.String)),
  /** The columns are what the functions after the load read, as the module's analysis found (ReadColumns). */
  columnsInferred: Schema.optional(Schema.Boolean),
  /** Rows for which this is false may be skipped by the reader (row groups, rows). */
  filter: Schema.NullOr(Expr),
  includeFilePaths: Schema.Boolean,
  filePathColumn: Schema.String,
  approxShardBytes: Schema.NullOr(Schema.Number),
  /** A description of the Effect Schema rows are decoded with, if any. */
  schema: Schema.NullOr(Schema.String),
  onBadRow: BadRowPolicy
})

export const ElementWise = Schema.Struct({
  ...head(OpKind.map, OpKind.flatMap, OpKind.mapShard, OpKind.windowBy)
})

export const Filter = Schema.Struct({
  ...head(OpKind.filter),
  /** A `col(...)` expression, or null for a function predicate. */
  expr: Schema.NullOr(Expr),
  /** Set when the reader also applies this filter (it still runs here; filters are idempotent). */
  pushedInto: Schema.optional(Schema.String)
})

export const MapEffect = Schema.Struct({ ...head(OpKind.mapEffect), concurrency: Schema.Number })
export const Select = Schema.Struct({
  ...head(OpKind.select),
  columns: Schema.Array(Schema.String),
  pushedInto: Schema.optional(Schema.String)
})
export const TakePerShard = Schema.Struct({ ...head(OpKind.takePerShard), n: Schema.Number })
export const Window = Schema.Struct({ ...head(OpKind.window), size: Schema.Number })

export const ShuffleRole = Schema.Literal("scatter", "reduce")
export type ShuffleRole = typeof ShuffleRole.Type

export const GroupBy = Schema.Struct({
  ...head(OpKind.groupBy),
  role: ShuffleRole,
  /** null: as many output shards as the scatter stage has input shards. */
  numOutputShards: Schema.NullOr(Schema.Number),
  reducer: Schema.NullOr(Schema.String),
  sortBy: Schema.Boolean,
  combiner: Schema.NullOr(Schema.String),
  /** The fields the combiner only sums, which the scatter adds in place, as the module's analysis found (CombineSums). */
  combinerSums: Schema.optional(Schema.Array(Schema.String))
})

export const Deduplicate = Schema.Struct({
  ...head(OpKind.deduplicate),
  role: ShuffleRole,
  numOutputShards: Schema.NullOr(Schema.Number)
})

export const FoldRole = Schema.Literal("local", "reshard", "global")
export type FoldRole = typeof FoldRole.Type

export const Fold = Schema.Struct({
  ...head(OpKind.reduce, OpKind.count),
  role: FoldRole
})

export const Reshard = Schema.Struct({ ...head(OpKind.reshard), n: Schema.Number })

export const Join = Schema.Struct({
  ...head(OpKind.sortedMergeJoin),
  how: Schema.Literal("inner", "left"),
  /** The stage whose output shard i is joined with this stage's shard i. */
  rightStage: Schema.Number,
  rightKey: Schema.NullOr(Schema.String),
  combiner: Schema.NullOr(Schema.String)
})

export const Write = Schema.Struct({
  ...head(OpKind.write),
  format: WriteFormat,
  /** The output pattern, or null when the pattern is a function. */
  pattern: Schema.NullOr(Schema.String),
  skipExisting: Schema.Boolean,
  compression: Schema.NullOr(Schema.String)
})

export const Op = Schema.Union(
  Load, ElementWise, Filter, MapEffect, Select, TakePerShard, Window, GroupBy, Deduplicate, Fold, Reshard, Join, Write
)
export type Op = typeof Op.Type
export type Kind = OpKind
// Every OpKind has its schema above (and every schema's kind is an OpKind), or this does not compile.
true satisfies ([OpKind] extends [Op["kind"]] ? true : never)
/** The op types whose kind is in K (a struct may cover several kinds, like the loads). */
export type OfKind<K extends Kind> = Op extends infer O
  ? O extends { readonly kind: infer OK } ? ([Extract<OK, K>] extends [never] ? never : O & { readonly kind: Extract<OK, K> }) : never
  : never

export const isKind = <K extends Kind>(op: Op, ...kinds: ReadonlyArray<K>): op is OfKind<K> =>
  (kinds as ReadonlyArray<string>).includes(op.kind)

/** Element-wise ops are fused into one stage; everything else is (part of) a boundary. */
export const elementWiseKinds = elementWiseKindList

export const isElementWise = (op: Op): boolean => (elementWiseKinds as ReadonlyArray<string>).includes(op.kind)

/** A short human label for an op: `groupBy(byWord)`, `filter((col("x") > 1))`, `write jsonl`. */
export const label = (op: Op): string => {
  const n = op.name ? `(${op.name})` : ""
  switch (op.kind) {
    case OpKind.write: return `write ${op.format}`
    case OpKind.reshard: return `reshard(${op.n})`
    case OpKind.takePerShard: return `takePerShard(${op.n})`
    case OpKind.window: return `window(${op.size})`
    case OpKind.select: return `select(${op.columns.map((c) => JSON.stringify(c)).join(", ")})`
    default: return `${op.kind}${n}`
  }
}
