import type { Schema } from "effect"
import type * as Expr from "../plan/Expr.ts"
import type * as Implementation from "../executable/Implementation.ts"
import type * as Op from "../plan/Op.ts"
import type { LoadKind } from "../plan/OpKind.ts"
import type { SourceLocation } from "../plan/SourceLocation.ts"
import type { Dataset } from "./Dataset.ts"

/**
 * One DSL call, as recorded by the immutable Dataset. The compiler's `lower` pass turns a
 * chain of steps into plan ops and their implementations.
 */
type Fn = Implementation.Fn

export type LoadOptions = {
  readonly columns?: ReadonlyArray<string> | undefined
  readonly approxShardBytes?: number | undefined
  readonly includeFilePaths?: boolean | undefined
  readonly filePathColumn?: string | undefined
  readonly onBadRow?: Op.BadRowPolicy | undefined
  readonly [key: string]: unknown
}

export type Step =
  | { readonly t: "list"; readonly method: "fromList" | "fromIterable"; readonly items: ReadonlyArray<unknown>; readonly loc: SourceLocation }
  | { readonly t: "files"; readonly method: string; readonly pattern: string; readonly emptyGlobOk: boolean; readonly loc: SourceLocation }
  | { readonly t: "load"; readonly kind: LoadKind; readonly format: Op.LoadFormat; readonly options: LoadOptions; readonly schema: Schema.Schema<any, any, never> | undefined; readonly loc: SourceLocation }
  | { readonly t: "fn"; readonly kind: "map" | "flatMap" | "filter"; readonly fn: Fn; readonly loc: SourceLocation }
  | { readonly t: "exprFilter"; readonly expr: Expr.Expr; readonly loc: SourceLocation }
  | { readonly t: "mapEffect"; readonly fn: Fn; readonly concurrency: number; readonly loc: SourceLocation }
  | { readonly t: "mapShard"; readonly fn: Fn; readonly loc: SourceLocation }
  | { readonly t: "windowBy"; readonly fold: Fn; readonly initial: unknown; readonly loc: SourceLocation }
  | { readonly t: "select"; readonly columns: ReadonlyArray<string>; readonly loc: SourceLocation }
  | { readonly t: "takePerShard"; readonly n: number; readonly loc: SourceLocation }
  | { readonly t: "window"; readonly size: number; readonly loc: SourceLocation }
  | { readonly t: "reshard"; readonly n: number; readonly loc: SourceLocation }
  | { readonly t: "groupBy"; readonly key: Fn; readonly reducer: Fn; readonly sortBy: Fn | undefined; readonly combiner: Fn | undefined; readonly numOutputShards: number | undefined; readonly loc: SourceLocation }
  | { readonly t: "deduplicate"; readonly key: Fn; readonly numOutputShards: number | undefined; readonly loc: SourceLocation }
  | { readonly t: "fold"; readonly kind: "reduce" | "count"; readonly local: Fn; readonly global: Fn; readonly loc: SourceLocation }
  | { readonly t: "join"; readonly right: Dataset<any, any, any>; readonly leftKey: Fn; readonly rightKey: Fn; readonly how: "inner" | "left"; readonly combiner: Fn | undefined; readonly loc: SourceLocation }
  | { readonly t: "write"; readonly format: Op.WriteFormat; readonly pattern: string | ((shard: number, total: number) => string); readonly skipExisting: boolean; readonly options: Readonly<Record<string, unknown>>; readonly loc: SourceLocation }
