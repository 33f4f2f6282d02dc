import { Schema } from "effect"
import { Op } from "./Op.ts"
import { Source } from "./Source.ts"

/**
 * How a stage gets its input shards:
 * - `source`: from the pipeline's source (list items or files);
 * - `stage`: shard i of another stage's output becomes shard i here;
 * - `shuffle`: shard r reads target r of every scatter output of a stage;
 * - `reshard`: the coordinator re-deals a stage's output into `n` shards (no worker task).
 */
export const Input = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("source"), source: Source }),
  Schema.Struct({ kind: Schema.Literal("stage"), stage: Schema.Number }),
  Schema.Struct({ kind: Schema.Literal("shuffle"), stage: Schema.Number }),
  Schema.Struct({ kind: Schema.Literal("reshard"), stage: Schema.Number })
)
export type Input = typeof Input.Type

export const BoundaryReason = Schema.Literal("shuffle", "reshard", "fold", "join", "end")
export type BoundaryReason = typeof BoundaryReason.Type

/** Why a stage ends; `detail` is the human sentence shown by explain. */
export const Boundary = Schema.Struct({
  reason: BoundaryReason,
  detail: Schema.String
})
export type Boundary = typeof Boundary.Type

/** `base` is what the stage does; `kind` is `join-right` for stages computing a join's right side. */
export const BaseKind = Schema.Literal("map", "reduce", "reshard", "fold")
export type BaseKind = typeof BaseKind.Type
export const Kind = Schema.Literal("map", "reduce", "reshard", "fold", "join-right")
export type Kind = typeof Kind.Type

export const Shards = Schema.Struct({
  /** null when it depends on files that are listed only when the run starts. */
  in: Schema.NullOr(Schema.Number),
  out: Schema.NullOr(Schema.Number)
})
export type Shards = typeof Shards.Type

export const Stage = Schema.Struct({
  id: Schema.Number,
  kind: Kind,
  base: BaseKind,
  input: Input,
  ops: Schema.Array(Op),
  boundary: Boundary,
  shards: Shards,
  /**
   * What the stage's outputs are computed from: its ops, the data baked into them, the code
   * it runs, and the fingerprints of the stages it reads. Resume reruns a stage when it changed.
   */
  fingerprint: Schema.String,
  /** For join-right stages: the stage whose join consumes this side. */
  joinedBy: Schema.optional(Schema.Number)
})
export type Stage = typeof Stage.Type

/** The stages whose outputs a stage reads: its input's, and its join's right side. */
export const reads = (stage: Pick<Stage, "input" | "ops">): Array<number> => [
  ...(stage.input.kind === "source" ? [] : [stage.input.stage]),
  ...stage.ops.flatMap((op) => (op.kind === "sortedMergeJoin" ? [op.rightStage] : []))
]
