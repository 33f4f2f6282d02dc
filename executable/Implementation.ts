import type { Effect, Schema } from "effect"
import type { OpKind } from "../plan/OpKind.ts"

/**
 * User functions of a compiled plan, keyed by op id (or source id). They never travel:
 * a worker rebuilds the same plan from the same module and finds them here.
 */
export interface ShardInfo { readonly shardIdx: number; readonly totalShards: number }

/* eslint-disable @typescript-eslint/no-explicit-any */
export type Fn = (...args: Array<any>) => any

export type Implementation =
  | { readonly kind: "list"; readonly items: ReadonlyArray<unknown> }
  | { readonly kind: "fn"; readonly fn: Fn }
  | { readonly kind: "mapEffect"; readonly fn: (a: any) => Effect.Effect<any, any, any> }
  | { readonly kind: "mapShard"; readonly fn: (items: Iterable<any>, info: ShardInfo) => Iterable<any> }
  | { readonly kind: "windowBy"; readonly fold: (state: any, item: any) => readonly [boolean, any]; readonly initial: unknown }
  | { readonly kind: "groupBy"; readonly key: Fn; readonly reducer: (key: any, items: Iterable<any>) => unknown; readonly sortBy: Fn | undefined; readonly combiner: ((key: any, items: Iterable<any>) => Iterable<any>) | undefined }
  | { readonly kind: "deduplicate"; readonly key: Fn }
  | { readonly kind: "fold"; readonly local: (items: Iterable<any>) => unknown; readonly global: (partials: Iterable<any>) => unknown }
  | { readonly kind: "join"; readonly leftKey: Fn; readonly rightKey: Fn; readonly combiner: (left: any, right: any) => unknown }
  | { readonly kind: "load"; readonly schema: Schema.Schema<any, any, never> | undefined; readonly options: Readonly<Record<string, unknown>> }
  | { readonly kind: "write"; readonly pattern: string | ((shard: number, total: number) => string); readonly options: Readonly<Record<string, unknown>> }

export type Table = ReadonlyMap<string, Implementation>

export const get = <K extends Implementation["kind"]>(table: Table, id: string, kind: K): Extract<Implementation, { kind: K }> => {
  const impl = table.get(id)
  if (!impl || impl.kind !== kind) throw new Error(`Internal: plan op ${id} has no ${kind} implementation (found ${impl?.kind ?? "none"}).`)
  return impl as Extract<Implementation, { kind: K }>
}

/**
 * The link from an op to its implementation: the kind of table entry each op kind finds
 * under its id, or null for ops that are plain data (the plan holds all they need). A
 * `count` keeps a fold entry it never reads; a `filter` with a `col` expression has none.
 */
export const linkOf = {
  loadFile: "load",
  loadJsonl: "load",
  loadParquet: "load",
  loadText: "load",
  loadCsv: "load",
  map: "fn",
  flatMap: "fn",
  filter: "fn",
  mapEffect: "mapEffect",
  mapShard: "mapShard",
  windowBy: "windowBy",
  select: null,
  takePerShard: null,
  window: null,
  groupBy: "groupBy",
  deduplicate: "deduplicate",
  reduce: "fold",
  count: "fold",
  reshard: null,
  sortedMergeJoin: "join",
  write: "write"
} as const satisfies Readonly<Record<OpKind, Implementation["kind"] | null>>

/** The implementation an op of kind K finds under its id. */
export type For<K extends OpKind> = Extract<Implementation, { kind: (typeof linkOf)[K] }>

/** The implementation of `op`, of the kind its op kind links to. */
export const of = <K extends OpKind>(table: Table, op: { readonly id: string; readonly kind: K }): For<K> => {
  const kind = linkOf[op.kind]
  if (kind === null) throw new Error(`Internal: plan op ${op.id} (${op.kind}) has no implementation.`)
  return get(table, op.id, kind) as For<K>
}
