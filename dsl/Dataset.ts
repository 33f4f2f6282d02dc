import type { Effect, Schema } from "effect"
import { ZephyrBuildError } from "../plan/Errors.ts"
import type { ShardInfo } from "../executable/Implementation.ts"
import type * as Op from "../plan/Op.ts"
import type { SourceLocation } from "../plan/SourceLocation.ts"
import { ColumnExpr } from "./Expr.ts"
import { capture } from "./SourceCapture.ts"
import type { LoadOptions, Step } from "./Step.ts"

/** A row read from JSONL, Parquet or CSV without a schema. */
export type Row = Record<string, any>

/** Keys are compared by value: strings, numbers, booleans, null, arrays and plain objects of those. */
export type Key = string | number | boolean | null | undefined | ReadonlyArray<Key> | { readonly [k: string]: Key }

/** What a reducer's return value becomes: a generator or iterator is flattened, anything else is one item. */
export type Flatten<Out> = Out extends Iterator<infer X, any, any> ? X : Out

export type { ShardInfo }

/** A pattern with `{shard}`, `{total}`, `{shard:05d}`, or a function of (shard, total). */
export type OutputPattern = string | ((shard: number, total: number) => string)

export interface WriteOptions {
  /** Skip a shard (and all of its upstream work) when its output file already exists. */
  readonly skipExisting?: boolean | undefined
}

export interface ReadOptions<S extends Schema.Schema.AnyNoContext | undefined> extends LoadOptions {
  /** Decode every row with this Schema; the element type becomes its `Type`. */
  readonly schema?: S
  readonly emptyGlobOk?: boolean | undefined
}

type Decoded<S> = S extends Schema.Schema<infer T, any, never> ? T : Row

const fail = (method: string, loc: SourceLocation, message: string): never => {
  throw new ZephyrBuildError({ reason: "invalid-argument", message: `${method} at ${loc.file}:${loc.line}: ${message}`, method, file: loc.file, line: loc.line })
}

const checkCount = (method: string, loc: SourceLocation, what: string, n: unknown, min: number): number => {
  if (typeof n !== "number" || !Number.isInteger(n)) fail(method, loc, `${what} must be an integer, got ${String(n)}`)
  if ((n as number) < min) fail(method, loc, `${what} must be ${min === 1 ? "positive" : "zero or more"}, got ${String(n)}`)
  return n as number
}

const checkFn = (method: string, loc: SourceLocation, what: string, fn: unknown): void => {
  if (typeof fn !== "function") fail(method, loc, `${what} must be a function, got ${fn === null ? "null" : typeof fn}`)
}

const checkPattern = (method: string, loc: SourceLocation, pattern: unknown): void => {
  if (typeof pattern === "function") return
  if (typeof pattern !== "string" || pattern.length === 0) fail(method, loc, "the output pattern must be a non-empty string or a function (shard, total) => path")
}

const TypeId: unique symbol = Symbol.for("zephyr/Dataset")

/**
 * An immutable, lazy description of a computation over shards of items of type `A`.
 * Every method returns a new Dataset; nothing runs until the dataset is executed.
 * `E` and `R` are the errors and services of the Effects used inside (`mapEffect`).
 */
export class Dataset<out A, out E = never, out R = never> {
  declare readonly "~types": { readonly A: A; readonly E: E; readonly R: R }
  readonly [TypeId] = TypeId

  private constructor(readonly steps: ReadonlyArray<Step>) {}

  static isDataset(u: unknown): u is Dataset<unknown, unknown, unknown> {
    return typeof u === "object" && u !== null && TypeId in u
  }

  private append<B, E2 = E, R2 = R>(step: Step): Dataset<B, E2, R2> {
    return new Dataset<B, E2, R2>([...this.steps, step])
  }

  // ---- sources -------------------------------------------------------------------------

  /** Each item is its own shard; `[]` gives an empty result. */
  static fromList<A>(items: ReadonlyArray<A>): Dataset<A> {
    const loc = capture()
    if (!Array.isArray(items)) fail("fromList", loc, "expects an array; use fromIterable for other iterables")
    return new Dataset<A>([{ t: "list", method: "fromList", items: items.slice(), loc }])
  }

  /** Like fromList, after materialising the iterable. */
  static fromIterable<A>(items: Iterable<A>): Dataset<A> {
    const loc = capture()
    if (items === null || typeof (items as any)?.[Symbol.iterator] !== "function") fail("fromIterable", loc, "expects an iterable")
    return new Dataset<A>([{ t: "list", method: "fromIterable", items: Array.from(items), loc }])
  }

  /** One item (the path) per matching file, sorted by path; `**` and `{a,b}` work. */
  static fromFiles(glob: string, options?: { readonly emptyGlobOk?: boolean | undefined }): Dataset<string> {
    const loc = capture()
    return Dataset.files("fromFiles", glob, options?.emptyGlobOk ?? false, loc)
  }

  private static files(method: string, glob: string, emptyGlobOk: boolean, loc: SourceLocation): Dataset<string> {
    if (typeof glob !== "string" || glob.length === 0) fail(method, loc, "the file pattern must be a non-empty string")
    return new Dataset<string>([{ t: "files", method, pattern: glob, emptyGlobOk, loc }])
  }

  /** fromFiles + loadJsonl; with a `schema`, rows are decoded and typed. */
  static readJsonl<S extends Schema.Schema.AnyNoContext | undefined = undefined>(glob: string, options?: ReadOptions<S>): Dataset<Decoded<S>> {
    const loc = capture()
    return Dataset.files("readJsonl", glob, options?.emptyGlobOk ?? false, loc).load("loadJsonl", "jsonl", options, loc)
  }

  /** fromFiles + loadParquet. */
  static readParquet<S extends Schema.Schema.AnyNoContext | undefined = undefined>(glob: string, options?: ReadOptions<S>): Dataset<Decoded<S>> {
    const loc = capture()
    return Dataset.files("readParquet", glob, options?.emptyGlobOk ?? false, loc).load("loadParquet", "parquet", options, loc)
  }

  /** fromFiles + loadCsv. */
  static readCsv<S extends Schema.Schema.AnyNoContext | undefined = undefined>(glob: string, options?: ReadOptions<S>): Dataset<Decoded<S>> {
    const loc = capture()
    return Dataset.files("readCsv", glob, options?.emptyGlobOk ?? false, loc).load("loadCsv", "csv", options, loc)
  }

  /** fromFiles + loadText: one string per line. */
  static readText(glob: string, options?: { readonly emptyGlobOk?: boolean | undefined }): Dataset<string> {
    const loc = capture()
    return Dataset.files("readText", glob, options?.emptyGlobOk ?? false, loc).load("loadText", "text", undefined, loc)
  }

  private load<B>(kind: Extract<Step, { t: "load" }>["kind"], format: Op.LoadFormat, options: LoadOptions & { readonly schema?: unknown } | undefined, loc: SourceLocation): Dataset<B, E, R> {
    const { schema, emptyGlobOk: _ignored, ...rest } = (options ?? {}) as LoadOptions & { schema?: Schema.Schema<any, any, never>; emptyGlobOk?: unknown }
    if (rest.approxShardBytes !== undefined) checkCount(kind, loc, "approxShardBytes", rest.approxShardBytes, 1)
    if (rest.onBadRow !== undefined && !["fail", "skip", "quarantine"].includes(rest.onBadRow)) {
      fail(kind, loc, `onBadRow must be "fail", "skip" or "quarantine", got ${JSON.stringify(rest.onBadRow)}`)
    }
    return this.append({ t: "load", kind, format, options: rest, schema, loc })
  }

  // ---- loads (paths → rows) ------------------------------------------------------------

  /** Reads each path with the reader its extension names (.jsonl, .json, .gz, .zst, .parquet, .csv, .txt). */
  loadFile<S extends Schema.Schema.AnyNoContext | undefined = undefined>(this: Dataset<string, E, R>, options?: ReadOptions<S>): Dataset<Decoded<S>, E, R> {
    return this.load("loadFile", "auto", options, capture())
  }
  loadJsonl<S extends Schema.Schema.AnyNoContext | undefined = undefined>(this: Dataset<string, E, R>, options?: ReadOptions<S>): Dataset<Decoded<S>, E, R> {
    return this.load("loadJsonl", "jsonl", options, capture())
  }
  loadParquet<S extends Schema.Schema.AnyNoContext | undefined = undefined>(this: Dataset<string, E, R>, options?: ReadOptions<S>): Dataset<Decoded<S>, E, R> {
    return this.load("loadParquet", "parquet", options, capture())
  }
  loadCsv<S extends Schema.Schema.AnyNoContext | undefined = undefined>(this: Dataset<string, E, R>, options?: ReadOptions<S>): Dataset<Decoded<S>, E, R> {
    return this.load("loadCsv", "csv", options, capture())
  }
  /** One string per line. */
  loadText(this: Dataset<string, E, R>): Dataset<string, E, R> {
    return this.load("loadText", "text", undefined, capture())
  }

  // ---- element-wise --------------------------------------------------------------------

  map<B>(fn: (item: A) => B): Dataset<B, E, R> {
    const loc = capture()
    checkFn("map", loc, "the mapping function", fn)
    return this.append({ t: "fn", kind: "map", fn, loc })
  }

  /** Keeps items for which `predicate` is truthy; a `col(...)` expression can be pushed into the reader. */
  filter(predicate: ((item: A) => unknown) | ColumnExpr): Dataset<A, E, R> {
    const loc = capture()
    if (predicate instanceof ColumnExpr) return this.append({ t: "exprFilter", expr: predicate.expr, loc })
    checkFn("filter", loc, "the predicate", predicate)
    return this.append({ t: "fn", kind: "filter", fn: predicate, loc })
  }

  /** `fn` returns any iterable; its items are flattened. */
  flatMap<B>(fn: (item: A) => Iterable<B>): Dataset<B, E, R> {
    const loc = capture()
    checkFn("flatMap", loc, "the function", fn)
    return this.append({ t: "fn", kind: "flatMap", fn, loc })
  }

  /** `fn` returns an Effect; up to `concurrency` run at once per shard, input order is kept. */
  mapEffect<B, E2, R2>(fn: (item: A) => Effect.Effect<B, E2, R2>, options?: { readonly concurrency?: number | undefined }): Dataset<B, E | E2, R | R2> {
    const loc = capture()
    checkFn("mapEffect", loc, "the function", fn)
    const concurrency = options?.concurrency === undefined ? 1 : checkCount("mapEffect", loc, "concurrency", options.concurrency, 1)
    return this.append({ t: "mapEffect", fn, concurrency, loc })
  }

  /** `fn(items, { shardIdx, totalShards })` sees a whole shard (called for empty shards too). */
  mapShard<B>(fn: (items: Iterable<A>, info: ShardInfo) => Iterable<B>): Dataset<B, E, R> {
    const loc = capture()
    checkFn("mapShard", loc, "the function", fn)
    return this.append({ t: "mapShard", fn, loc })
  }

  /** Keeps the given keys, in the order given; missing keys are omitted. */
  select<K extends keyof A & string>(...columns: ReadonlyArray<K>): Dataset<Pick<A, K>, E, R> {
    const loc = capture()
    if (columns.length === 0) fail("select", loc, "name at least one column")
    for (const c of columns) if (typeof c !== "string") fail("select", loc, `column names must be strings, got ${typeof c}`)
    return this.append({ t: "select", columns: [...columns], loc })
  }

  /** The first `n` items of each shard. */
  takePerShard(n: number): Dataset<A, E, R> {
    const loc = capture()
    return this.append({ t: "takePerShard", n: checkCount("takePerShard", loc, "n", n, 0), loc })
  }

  /** Per-shard arrays of `size` consecutive items; the last may be short. */
  window(size: number): Dataset<Array<A>, E, R> {
    const loc = capture()
    return this.append({ t: "window", size: checkCount("window", loc, "the window size", size, 1), loc })
  }

  /**
   * Per-shard windows decided by a fold: `fold(state, item)` returns `[keep, newState]`;
   * when `keep` is false on a non-empty window, that window is emitted and a new one starts
   * with the item, with state `fold(initial, item)[1]`.
   */
  windowBy<S>(fold: (state: S, item: A) => readonly [boolean, S], initial: S): Dataset<Array<A>, E, R> {
    const loc = capture()
    checkFn("windowBy", loc, "the fold", fold)
    return this.append({ t: "windowBy", fold, initial, loc })
  }

  // ---- boundaries ----------------------------------------------------------------------

  /** Redistributes items into `n` balanced shards, keeping their order; `undefined` is a no-op. */
  reshard(n: number | undefined): Dataset<A, E, R> {
    if (n === undefined) return this
    const loc = capture()
    return this.append({ t: "reshard", n: checkCount("reshard", loc, "the number of shards", n, 1), loc })
  }

  /**
   * Hash-partitions by `key` into `numOutputShards` shards (default: the input shard count)
   * and calls `reducer(key, items)` once per key. `sortBy` orders items inside a group;
   * `combiner(key, items)` shrinks data map-side and returns partial items.
   */
  groupBy<K extends Key, Out>(
    key: (item: A) => K,
    reducer: (key: K, items: Iterable<A>) => Out,
    // Method signatures keep Dataset covariant in A (a Dataset<Cat> is a Dataset<Animal>).
    options?: {
      sortBy?(item: A): Key
      readonly numOutputShards?: number | undefined
      combiner?(key: K, items: Iterable<A>): Iterable<A>
    }
  ): Dataset<Flatten<Out>, E, R> {
    const loc = capture()
    checkFn("groupBy", loc, "the key function", key)
    checkFn("groupBy", loc, "the reducer", reducer)
    if (options?.sortBy !== undefined) checkFn("groupBy", loc, "sortBy", options.sortBy)
    if (options?.combiner !== undefined) checkFn("groupBy", loc, "the combiner", options.combiner)
    const numOutputShards = options?.numOutputShards === undefined ? undefined : checkCount("groupBy", loc, "numOutputShards", options.numOutputShards, 1)
    return this.append({ t: "groupBy", key, reducer, sortBy: options?.sortBy, combiner: options?.combiner, numOutputShards, loc })
  }

  /** One item per key (which duplicate survives is unspecified). */
  deduplicate(key: (item: A) => Key, options?: { readonly numOutputShards?: number | undefined }): Dataset<A, E, R> {
    const loc = capture()
    checkFn("deduplicate", loc, "the key function", key)
    const numOutputShards = options?.numOutputShards === undefined ? undefined : checkCount("deduplicate", loc, "numOutputShards", options.numOutputShards, 1)
    return this.append({ t: "deduplicate", key, numOutputShards, loc })
  }

  /**
   * A one-element result: `local` folds each shard, `global` folds the partials (default:
   * `local`). Empty input gives `[]`.
   */
  reduce(local: (items: Iterable<A>) => A): Dataset<A, E, R>
  reduce<B>(local: (items: Iterable<A>) => B, global: (partials: Iterable<B>) => B): Dataset<B, E, R>
  reduce<B>(local: (items: Iterable<A>) => B, global?: (partials: Iterable<B>) => B): Dataset<B, E, R> {
    const loc = capture()
    checkFn("reduce", loc, "the local reducer", local)
    if (global !== undefined) checkFn("reduce", loc, "the global reducer", global)
    return this.append({ t: "fold", kind: "reduce", local, global: global ?? local, loc })
  }

  /** The number of items, as a one-element result (empty input gives `[]`). */
  count(): Dataset<number, E, R> {
    const loc = capture()
    return this.append({ t: "fold", kind: "count", local: countItems, global: sumPartials, loc })
  }

  /**
   * Joins shard i of this dataset with shard i of `right`. Both sides must be
   * co-partitioned and sorted by key (typically both grouped by the same key into the same
   * number of shards). Duplicate keys give the cartesian product; a left join passes
   * `null` for a missing right side; the default combiner merges the two objects.
   */
  sortedMergeJoin<B, E2, R2, K extends Key, C = A & B>(
    right: Dataset<B, E2, R2>,
    options: { readonly leftKey: (left: A) => K; readonly rightKey: (right: B) => K; readonly how?: "inner" | undefined; readonly combiner?: ((left: A, right: B) => C) | undefined }
  ): Dataset<C, E | E2, R | R2>
  sortedMergeJoin<B, E2, R2, K extends Key, C = A & Partial<B>>(
    right: Dataset<B, E2, R2>,
    options: { readonly leftKey: (left: A) => K; readonly rightKey: (right: B) => K; readonly how: "left"; readonly combiner?: ((left: A, right: B | null) => C) | undefined }
  ): Dataset<C, E | E2, R | R2>
  sortedMergeJoin(
    right: Dataset<any, any, any>,
    options: { readonly leftKey: (l: any) => Key; readonly rightKey: (r: any) => Key; readonly how?: "inner" | "left" | undefined; readonly combiner?: ((l: any, r: any) => unknown) | undefined }
  ): Dataset<any, any, any> {
    const loc = capture()
    if (!Dataset.isDataset(right)) fail("sortedMergeJoin", loc, "the right side must be a Dataset")
    if (options === null || typeof options !== "object") fail("sortedMergeJoin", loc, "pass { leftKey, rightKey }")
    checkFn("sortedMergeJoin", loc, "leftKey", options.leftKey)
    checkFn("sortedMergeJoin", loc, "rightKey", options.rightKey)
    const how = options.how ?? "inner"
    if (how !== "inner" && how !== "left") fail("sortedMergeJoin", loc, `only supports "inner" and "left" joins, got ${JSON.stringify(how)}`)
    if (options.combiner !== undefined) checkFn("sortedMergeJoin", loc, "the combiner", options.combiner)
    return this.append({ t: "join", right, leftKey: options.leftKey, rightKey: options.rightKey, how, combiner: options.combiner, loc })
  }

  // ---- writers ---------------------------------------------------------------------------

  private write(method: string, format: Op.WriteFormat, pattern: OutputPattern, options: Readonly<Record<string, unknown>> | undefined, loc: SourceLocation): Dataset<string, E, R> {
    checkPattern(method, loc, pattern)
    const { skipExisting, ...rest } = (options ?? {}) as { skipExisting?: unknown }
    return this.append({ t: "write", format, pattern, skipExisting: skipExisting === true, options: rest, loc })
  }

  /** One JSONL file per shard (compressed by `.gz`/`.zst` extension); the result is the list of paths. */
  writeJsonl(pattern: OutputPattern, options?: WriteOptions): Dataset<string, E, R> {
    return this.write("writeJsonl", "jsonl", pattern, options as Readonly<Record<string, unknown>>, capture())
  }
  /** One Parquet file per shard; the schema is given or inferred from the first rows. */
  writeParquet(pattern: OutputPattern, options?: WriteOptions & { readonly schema?: unknown; readonly rowGroupSize?: number | undefined; readonly compression?: string | undefined }): Dataset<string, E, R> {
    return this.write("writeParquet", "parquet", pattern, options as Readonly<Record<string, unknown>>, capture())
  }
  /** One text file per shard, one item per line. */
  writeText(pattern: OutputPattern, options?: WriteOptions): Dataset<string, E, R> {
    return this.write("writeText", "text", pattern, options as Readonly<Record<string, unknown>>, capture())
  }
  /** One CSV file per shard, with a header row. */
  writeCsv(pattern: OutputPattern, options?: WriteOptions & { readonly columns?: ReadonlyArray<string> | undefined }): Dataset<string, E, R> {
    return this.write("writeCsv", "csv", pattern, options as Readonly<Record<string, unknown>>, capture())
  }
}

function countItems(items: Iterable<unknown>): number {
  let n = 0
  for (const _ of items) n++
  return n
}

function sumPartials(partials: Iterable<number>): number {
  let n = 0
  for (const p of partials) n += p
  return n
}
