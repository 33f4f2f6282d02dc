import * as path from "node:path"
import { Cause, Effect, Exit, Runtime } from "effect"
import { ZephyrWorkerError } from "../../plan/Errors.ts"
import type * as Op from "../../plan/Op.ts"
import { type LoadKind, OpKind } from "../../plan/OpKind.ts"
import * as TaskContext from "./TaskContext.ts"
import { type ChunkRef, refCount } from "../../rpc/Protocol.ts"
import * as Readers from "../formats/Readers.ts"
import * as BlockFile from "../storage/BlockFile.ts"
import * as StoragePath from "../storage/StoragePath.ts"
import * as Stream from "./ChunkStream.ts"
import * as ElementOps from "./ElementOps.ts"
import * as Gather from "./Gather.ts"
import { mergeJoin } from "./MergeJoin.ts"
import type { TaskScope } from "./TaskScope.ts"
import { UserCodeError } from "./UserCodeError.ts"

/**
 * The operators of a stage, by op kind: each turns the stream of chunks coming in into the
 * stream going out. A new op kind needs its DSL method, one lowering rule in the compiler,
 * and one entry here. Kinds that only ever start or end a stage (a shuffle's two sides,
 * reshard, write) have an entry that refuses to run in the middle of one: the driver
 * handles them as the stage's input or output.
 */
export type Operator<K extends Op.Kind> = (op: Op.OfKind<K>, scope: TaskScope, upstream: Stream.ChunkStream) => Stream.ChunkStream

/** A shard's gather before a sync consumer keeps at most this share of the memory budget in memory. */
export const GATHER_SHARE = 0.5

/** A chunk transducer made and run as user code of `op`, so its errors name the op. */
const transducer = <K extends Op.Kind>(make: (op: Op.OfKind<K>, scope: TaskScope) => () => Stream.Transducer): Operator<K> =>
  (op, scope, upstream) => Stream.through(upstream, () => {
    const t = scope.user(op, make(op, scope))
    const push = (chunk: Stream.Chunk) => t.push(chunk)
    const end = () => t.end()
    const more = () => t.more!()
    const close = () => t.close?.()
    return {
      push: (chunk) => scope.user(op, () => push(chunk)),
      end: () => scope.user(op, end),
      more: () => scope.user(op, more),
      close: () => { if (t.close) scope.user(op, close) },
      get done() { return t.done ?? false },
      get pending() { return t.pending ?? false }
    }
  })

const boundary = (op: Op.Op, scope: TaskScope): never => {
  throw new Error(`Internal: ${op.kind} (${op.id}) cannot run inside stage ${scope.stage.id}`)
}

const load = (op: Op.OfKind<LoadKind>, scope: TaskScope, upstream: Stream.ChunkStream): Stream.ChunkStream => {
  const impl = scope.impl(op)
  const input = scope.input
  const quarantineDir = typeof impl.options.quarantineDir === "string" ? impl.options.quarantineDir : quarantineDirOf(scope)
  return Stream.expandAsync(upstream, (item) => {
    if (typeof item !== "string") throw new UserCodeError(op, new TypeError(`${op.kind} expects file paths (strings), got ${item === null ? "null" : typeof item}`))
    const rows = input.kind === "file" && input.path === item ? input.rows : undefined
    return attributed(op, Readers.read({
      path: item,
      kind: op.kind,
      format: op.format,
      columns: op.columns,
      filter: op.filter,
      includeFilePaths: op.includeFilePaths,
      filePathColumn: op.filePathColumn,
      schema: impl.schema,
      onBadRow: op.onBadRow,
      rows,
      quarantineDir,
      counters: scope.ctx.counters,
      options: impl.options
    }))
  })
}

/** Bad rows set aside by `quarantine` go under the pipeline's output folder. */
const quarantineDirOf = (scope: TaskScope): string => {
  for (const stage of scope.exe.plan.stages) {
    for (const op of stage.ops) {
      if (op.kind === OpKind.write && op.pattern !== null) {
        const dir = StoragePath.dirname(op.pattern.replace(/\{[^}]*\}.*$/, "x"))
        return StoragePath.join(dir, "_quarantine")
      }
    }
  }
  return path.join(process.cwd(), "zephyr-quarantine")
}

async function* attributed(op: Op.Op, source: AsyncIterable<ReadonlyArray<unknown>>): AsyncGenerator<ReadonlyArray<unknown>> {
  try {
    yield* source
  } catch (e) {
    throw e instanceof UserCodeError || e instanceof ZephyrWorkerError ? e : new UserCodeError(op, e)
  }
}

const mapEffect: Operator<"mapEffect"> = (op, scope, upstream) => {
  const fn = scope.impl(op).fn
  const ctx = scope.ctx
  const run = Runtime.runPromiseExit(scope.env.runtime)
  return Stream.throughAsync(upstream, async (chunk) => {
    const effect = Effect.forEach(chunk, (item) => Effect.suspend(() => fn(item)), { concurrency: op.concurrency }).pipe(Effect.locally(TaskContext.fiberRef, ctx))
    const exit = await run(effect)
    if (Exit.isSuccess(exit)) return exit.value
    throw new UserCodeError(op, Cause.squash(exit.cause))
  })
}

/** A sync consumer of the whole shard: an async upstream is gathered first (in memory up to a byte limit, then on disk). */
const whole = (scope: TaskScope, upstream: Stream.ChunkStream, consume: (s: Extract<Stream.ChunkStream, { sync: true }>) => Stream.ChunkStream): Stream.ChunkStream => {
  if (upstream.sync) return consume(upstream)
  return Stream.fromAsync(async function* () {
    const gathered = await Gather.gather(upstream, {
      maxBytes: scope.env.memoryBudgetBytes * GATHER_SHARE,
      spillFile: () => BlockFile.uniqueName(scope.scratch(), "gathered", ".blk"),
      onSpill: (bytes) => {
        scope.ctx.counters.increment("zephyr/gather_spill_files", 1)
        scope.ctx.counters.increment("zephyr/gather_spill_bytes", bytes)
      }
    })
    yield* Stream.asAsync(consume(gathered.stream))
  })
}

const mapShard: Operator<"mapShard"> = (op, scope, upstream) => whole(scope, upstream, (stream) => {
  const fn = scope.impl(op).fn
  const info = { shardIdx: scope.task.shard, totalShards: scope.task.totalShards }
  return Stream.fromSync(function* () {
    const chunks = stream.chunks()
    try {
      const result = scope.user(op, () => fn(Stream.items(chunks), info))
      if (result === null || result === undefined || typeof (result as Iterable<unknown>)[Symbol.iterator] !== "function") {
        throw new UserCodeError(op, new TypeError(`mapShard${op.name ? `(${op.name})` : ""} must return an iterable, got ${result === null ? "null" : typeof result}`))
      }
      const it = scope.user(op, () => (result as Iterable<unknown>)[Symbol.iterator]())
      yield* userItems(scope, op, it)
    } finally {
      chunks.return?.()
    }
  })
})

/**
 * The items of a user iterator in chunks, each `next` run as user code of `op` (one closure
 * per iterator, not per item). A consumer that stops early returns the iterator, so the
 * `finally` blocks of a user's generator run.
 */
export function* userItems(scope: TaskScope, op: Op.Op, it: Iterator<unknown>): Generator<Stream.Chunk> {
  let out: Array<unknown> = []
  // As in for-of: an iterator that threw or ended is not returned.
  let open = true
  const next = () => {
    try {
      const r = it.next()
      if (r.done) open = false
      return r
    } catch (e) {
      open = false
      throw e
    }
  }
  try {
    for (let r = scope.user(op, next); !r.done; r = scope.user(op, next)) {
      out.push(r.value)
      if (out.length >= Stream.CHUNK_ITEMS) { yield out; out = [] }
    }
    if (out.length > 0) yield out
  } finally {
    if (open && typeof it.return === "function") scope.user(op, () => it.return!())
  }
}

/** reduce/count: a shard (or the gathered partials) folds into at most one item; an empty input gives none. */
const fold = (op: Op.OfKind<"reduce" | "count">, scope: TaskScope, upstream: Stream.ChunkStream): Stream.ChunkStream => {
  if (op.kind === OpKind.count) {
    const local = op.role === "local"
    return Stream.fromAsync(async function* () {
      let n = 0, seen = false
      await Stream.drain(upstream, (chunk) => {
        if (chunk.length === 0) return
        seen = true
        if (local) n += chunk.length
        else for (const p of chunk) n += p as number
      })
      if (seen) yield [n]
    })
  }
  const impl = scope.impl(op)
  const f = op.role === "global" ? impl.global : impl.local
  return whole(scope, upstream, (s) => Stream.fromSync(function* () {
    const chunks = s.chunks()
    const first = chunks.next()
    if (first.done) return
    const all = (function* () { yield* first.value; yield* Stream.items(chunks) })()
    yield [scope.user(op, () => f(all))]
  }))
}

const join: Operator<"sortedMergeJoin"> = (op, scope, upstream) => {
  const impl = scope.impl(op)
  const right = scope.right
  if (!right || right.kind !== "chunks") throw new Error(`Internal: stage ${scope.stage.id} joins but its task has no right side`)
  const rightItems = Stream.items(readRefs(right.refs, scope.io).chunks())
  return transducer<"sortedMergeJoin">(() => mergeJoin({
    right: rightItems,
    leftKey: impl.leftKey,
    rightKey: impl.rightKey,
    combiner: impl.combiner,
    how: op.how,
    where: `shard ${scope.task.shard} of stage ${scope.stage.id} (right side: stage ${op.rightStage})`
  }))(op, scope, upstream)
}

/**
 * The items of a list of chunk refs, in order; `io` (a task's built-in counters) counts
 * their items and the bytes read for them.
 */
export const readRefs = (refs: ReadonlyArray<ChunkRef>, io?: { recordsIn: number; bytesIn: number }): Extract<Stream.ChunkStream, { sync: true }> => ({
  sync: true,
  chunks: function* () {
    const onBytes = io && ((n: number) => { io.bytesIn += n })
    for (const ref of refs) {
      if (io) io.recordsIn += refCount(ref)
      if (ref.kind === "inline") {
        if (io) io.bytesIn += ref.bytes.byteLength
        if (ref.count > 0) yield BlockFile.inlineItems(ref)
      } else if (ref.take > 0) yield* BlockFile.read(ref.path, { skip: ref.skip, take: ref.take, onBytes })
    }
  }
})

// One entry per OpKind, or this does not compile. The entries' type is spelled out (not
// `Operator<K>`) so that TypeScript compares them structurally.
export const table: { readonly [K in OpKind]: (op: Op.OfKind<K>, scope: TaskScope, upstream: Stream.ChunkStream) => Stream.ChunkStream } = {
  loadFile: load,
  loadJsonl: load,
  loadParquet: load,
  loadText: load,
  loadCsv: load,
  map: transducer((op, scope) => ElementOps.map(scope.impl(op).fn)),
  filter: transducer((op, scope) => (op.expr ? ElementOps.exprFilter(op.expr) : ElementOps.filter(scope.impl(op).fn))),
  flatMap: transducer((op, scope) => ElementOps.flatMap(scope.impl(op).fn, op)),
  select: transducer((op) => ElementOps.select(op.columns)),
  takePerShard: transducer((op) => ElementOps.takePerShard(op.n)),
  window: transducer((op) => ElementOps.window(op.size)),
  windowBy: transducer((op, scope) => ElementOps.windowBy(scope.impl(op), op)),
  mapEffect,
  mapShard,
  reduce: fold,
  count: fold,
  sortedMergeJoin: join,
  groupBy: boundary,
  deduplicate: boundary,
  reshard: boundary,
  write: boundary
}

/** Applies `op` to the stream (the table lookup, typed). */
export const apply = (op: Op.Op, scope: TaskScope, upstream: Stream.ChunkStream): Stream.ChunkStream =>
  (table[op.kind] as Operator<Op.Kind>)(op, scope, upstream)
