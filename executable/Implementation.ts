import type { Effect, Schema } from "effect"

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
