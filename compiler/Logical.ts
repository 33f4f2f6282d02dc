import type * as Implementation from "../executable/Implementation.ts"
import type * as Op from "../plan/Op.ts"
import type * as Source from "../plan/Source.ts"

/**
 * The lowered pipeline between the `lower` and `fuse` passes: a source and a linear list
 * of ops with ids, boundaries still unresolved, a join's right side lowered recursively.
 */
export type LogicalOp =
  | { readonly t: "op"; readonly op: Op.Op }
  | { readonly t: "shuffle"; readonly op: Op.OfKind<"groupBy" | "deduplicate"> }
  | { readonly t: "fold"; readonly op: Op.OfKind<"reduce" | "count"> }
  | { readonly t: "reshard"; readonly op: Op.OfKind<"reshard"> }
  | { readonly t: "join"; readonly op: Op.OfKind<"sortedMergeJoin">; readonly right: Pipeline }

export interface Pipeline {
  readonly source: Source.Source
  readonly ops: ReadonlyArray<LogicalOp>
}

export interface Lowered {
  readonly pipeline: Pipeline
  readonly implementations: Implementation.Table
}
