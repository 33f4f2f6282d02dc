import * as fs from "node:fs"
import * as path from "node:path"
import { Cause, Effect, Exit, Runtime } from "effect"
import { CounterSet } from "../../compiler/plan/CounterSet.ts"
import { ZephyrWorkerError } from "../../compiler/plan/Errors.ts"
import type * as Executable from "../../compiler/plan/Executable.ts"
import * as Implementation from "../../compiler/plan/Implementation.ts"
import type * as Op from "../../compiler/plan/Op.ts"
import type * as Stage from "../../compiler/plan/Stage.ts"
import * as TaskContext from "../../compiler/plan/TaskContext.ts"
import type { ChunkRef, ShardInput, ShardOutput, Task } from "../../rpc/Protocol.ts"
import * as OutputPath from "../formats/OutputPath.ts"
import * as Readers from "../formats/Readers.ts"
import * as Writers from "../formats/Writers.ts"
import { ScatterWriter } from "../shuffle/ScatterWriter.ts"
import * as ShuffleReader from "../shuffle/ShuffleReader.ts"
import * as BlockFile from "../storage/BlockFile.ts"
import * as ExecutionDir from "../storage/ExecutionDir.ts"
import * as Stream from "./ChunkStream.ts"
import * as ElementOps from "./ElementOps.ts"
import { JoinOrderError, mergeJoin } from "./MergeJoin.ts"
import { attribute, attributeAsync, UserCodeError } from "./UserCodeError.ts"

/** What a worker gives every task it runs. */
export interface TaskEnv {
  readonly workerId: string
  readonly executionDir: string
  readonly memoryBudgetBytes: number
  /** Runs the Effects of `mapEffect` with the services of the worker's layer. */
  readonly runtime: Runtime.Runtime<any>
  readonly shared: (name: string) => unknown
}

export type TaskOutcome =
  | { readonly kind: "done"; readonly output: ShardOutput; readonly counters: CounterSet }
  | { readonly kind: "failed"; readonly error: ZephyrWorkerError; readonly permanent: boolean; readonly counters: CounterSet }

/** Outputs up to this many items travel inline in the report instead of in a chunk file. */
const INLINE_MAX = 64
/** Items per block in chunk files. */
const BLOCK_ITEMS = 4096
/** A sync consumer of an async stream keeps up to this many items in memory, then spills. */
const MATERIALISE_IN_MEMORY = 50_000

const isIterator = (v: unknown): v is Iterator<unknown> =>
  v !== null && typeof v === "object" && typeof (v as Iterator<unknown>).next === "function" && typeof (v as Iterable<unknown>)[Symbol.iterator] === "function"

/**
 * Runs one shard through one stage: opens its input, applies the stage's fused ops as a
 * stream of chunks, and writes the output (chunk files, a scatter, or a user's file).
 * Never throws: failures come back as a report naming the stage, shard, op and line.
 */
export const run = async (exe: Executable.Executable, task: Task, env: TaskEnv): Promise<TaskOutcome> => {
  const counters = new CounterSet()
  const stage = exe.plan.stages[task.stage]
  if (!stage) {
    return { kind: "failed", counters, permanent: true, error: new ZephyrWorkerError({ message: `Internal: the plan has no stage ${task.stage}.`, stage: task.stage, shard: task.shard }) }
  }
  const ctx: TaskContext.TaskContext = {
    counters,
    shared: env.shared,
    stage: task.stage,
    shard: task.shard,
    totalShards: task.totalShards,
    attempt: task.attempt,
    workerId: env.workerId
  }
  const scratch = ExecutionDir.scratchDir(env.executionDir, env.workerId, task)
  try {
    const output = await TaskContext.runAsync(ctx, () => new StageTask(exe, stage, task, env, ctx, scratch).run())
    return { kind: "done", output, counters }
  } catch (e) {
    return { kind: "failed", counters, ...describeFailure(e, stage, task, env) }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true })
  }
}

const describeFailure = (e: unknown, stage: Stage.Stage, task: Task, env: TaskEnv): { error: ZephyrWorkerError; permanent: boolean } => {
  const op = e instanceof UserCodeError ? e.op : undefined
  const original = e instanceof UserCodeError ? e.original : e
  const where = op ? `${op.kind}${op.name ? `(${op.name})` : ""} at ${op.source.file}:${op.source.line}` : `stage ${stage.id}`
  const base = original instanceof Error ? original.message : typeof original === "object" && original !== null && "message" in original ? String((original as { message: unknown }).message) : String(original)
  const permanent = original instanceof ZephyrWorkerError || original instanceof JoinOrderError
  const fields = original instanceof ZephyrWorkerError ? original : undefined
  const file = fields?.file ?? op?.source.file
  const line = fields?.line ?? op?.source.line
  return {
    permanent,
    error: new ZephyrWorkerError({
      message: original instanceof ZephyrWorkerError ? base : `${where} threw: ${base}`,
      stage: stage.id,
      shard: task.shard,
      attempt: task.attempt,
      worker: env.workerId,
      ...(op ? { op: op.id } : {}),
      ...(file !== undefined ? { file } : {}),
      ...(line !== undefined ? { line } : {}),
      ...(original instanceof Error && original.stack ? { cause: original.stack } : {})
    })
  }
}

class StageTask {
  constructor(
    readonly exe: Executable.Executable,
    readonly stage: Stage.Stage,
    readonly task: Task,
    readonly env: TaskEnv,
    readonly ctx: TaskContext.TaskContext,
    readonly scratch: string
  ) {}

  private impl<K extends Implementation.Implementation["kind"]>(id: string, kind: K) {
    return Implementation.get(this.exe.implementations, id, kind)
  }

  /** Runs user code synchronously as this task, attributing errors to `op`. */
  private user<T>(op: Op.Op, f: () => T): T {
    return TaskContext.runSync(this.ctx, () => attribute(op, f))
  }

  private wrap(op: Op.Op, make: () => Stream.Transducer): () => Stream.Transducer {
    return () => {
      const t = this.user(op, make)
      const self = this
      return {
        push: (chunk) => self.user(op, () => t.push(chunk)),
        end: () => self.user(op, () => t.end()),
        get done() { return t.done ?? false }
      }
    }
  }

  async run(): Promise<ShardOutput> {
    const ops = this.stage.ops
    const last = ops[ops.length - 1]
    if (last?.kind === "write" && last.skipExisting) {
      const target = this.outputPath(last)
      if (fs.existsSync(target)) {
        this.ctx.counters.increment("zephyr/shards_skipped")
        return { kind: "chunks", refs: [BlockFile.inline([target])] }
      }
    }
    let stream: Stream.ChunkStream
    let rest: ReadonlyArray<Op.Op> = ops
    if (this.task.input.kind === "shuffle") {
      const first = ops[0]
      if (!first || (first.kind !== "groupBy" && first.kind !== "deduplicate") || first.role !== "reduce") {
        throw new Error(`Internal: stage ${this.stage.id} reads a shuffle but does not start with a reduce`)
      }
      stream = this.reduce(first, this.task.input)
      rest = ops.slice(1)
    } else {
      stream = this.open(this.task.input)
    }
    const terminal = rest[rest.length - 1]
    const body = terminal && (terminal.kind === "write" || ((terminal.kind === "groupBy" || terminal.kind === "deduplicate") && terminal.role === "scatter")) ? rest.slice(0, -1) : rest
    for (const op of body) stream = this.apply(op, stream)
    if (terminal?.kind === "write") return this.write(terminal, stream)
    if (terminal && (terminal.kind === "groupBy" || terminal.kind === "deduplicate") && terminal.role === "scatter") return this.scatter(terminal, stream)
    return { kind: "chunks", refs: await this.collect(stream) }
  }

  // ---- inputs ---------------------------------------------------------------------------

  private open(input: ShardInput): Stream.ChunkStream {
    switch (input.kind) {
      case "list": {
        const source = this.stage.input.kind === "source" ? this.stage.input.source : undefined
        if (!source) throw new Error(`Internal: stage ${this.stage.id} has no list source`)
        const items = this.impl(source.id, "list").items
        return Stream.of([items[input.index]])
      }
      case "file": return Stream.of([input.path])
      case "chunks": return readRefs(input.refs)
      case "shuffle": throw new Error("Internal: a shuffle input is opened by its reduce")
    }
  }

  /** The groups of this shard's shuffle target, through the groupBy's reducer (or deduplication). */
  private reduce(op: Op.OfKind<"groupBy" | "deduplicate">, input: Extract<ShardInput, { kind: "shuffle" }>): Stream.ChunkStream {
    const self = this
    const manifests = readManifestList(input.manifests)
    const budget = this.env.memoryBudgetBytes
    const reducer = op.kind === "groupBy" ? this.impl(op.id, "groupBy").reducer : undefined
    return Stream.fromSync(function* () {
      const groups = ShuffleReader.groups(manifests, input.target, { tmpDir: path.join(self.scratch, "merge"), memoryBudgetBytes: budget, counters: self.ctx.counters })
      let out: Array<unknown> = []
      for (const [key, items] of groups) {
        if (!reducer) {
          const first = items[Symbol.iterator]().next()
          if (!first.done) out.push(first.value)
        } else {
          const result = self.user(op, () => reducer(key, items))
          if (isIterator(result)) {
            const next = () => result.next() // one closure per group, not per item
            for (let r = self.user(op, next); !r.done; r = self.user(op, next)) {
              out.push(r.value)
              if (out.length >= 1024) { yield out; out = [] }
            }
          } else out.push(result)
        }
        if (out.length >= 1024) { yield out; out = [] }
      }
      if (out.length > 0) yield out
    })
  }

  // ---- ops ------------------------------------------------------------------------------

  private apply(op: Op.Op, stream: Stream.ChunkStream): Stream.ChunkStream {
    switch (op.kind) {
      case "map": return Stream.through(stream, this.wrap(op, ElementOps.map(this.impl(op.id, "fn").fn)))
      case "filter":
        return Stream.through(stream, this.wrap(op, op.expr ? ElementOps.exprFilter(op.expr) : ElementOps.filter(this.impl(op.id, "fn").fn)))
      case "flatMap": return Stream.through(stream, this.wrap(op, ElementOps.flatMap(this.impl(op.id, "fn").fn, op)))
      case "select": return Stream.through(stream, this.wrap(op, ElementOps.select(op.columns)))
      case "takePerShard": return Stream.through(stream, this.wrap(op, ElementOps.takePerShard(op.n)))
      case "window": return Stream.through(stream, this.wrap(op, ElementOps.window(op.size)))
      case "windowBy": return Stream.through(stream, this.wrap(op, ElementOps.windowBy(this.impl(op.id, "windowBy"), op)))
      case "mapEffect": return this.mapEffect(op, stream)
      case "mapShard": return this.whole(stream, (s) => this.mapShard(op, s))
      case "reduce": case "count": return this.fold(op, stream)
      case "sortedMergeJoin": return this.join(op, stream)
      case "loadFile": case "loadJsonl": case "loadParquet": case "loadText": case "loadCsv": return this.load(op, stream)
      case "groupBy": case "deduplicate": case "reshard": case "write":
        throw new Error(`Internal: ${op.kind} (${op.id}) cannot run inside stage ${this.stage.id}`)
    }
  }

  private load(op: Op.OfKind<"loadFile" | "loadJsonl" | "loadParquet" | "loadText" | "loadCsv">, stream: Stream.ChunkStream): Stream.ChunkStream {
    const impl = this.impl(op.id, "load")
    const input = this.task.input
    const quarantineDir = typeof impl.options.quarantineDir === "string" ? impl.options.quarantineDir : this.quarantineDir()
    return Stream.expandAsync(stream, (item) => {
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
        counters: this.ctx.counters,
        options: impl.options
      }))
    })
  }

  /** Bad rows set aside by `quarantine` go under the pipeline's output folder. */
  private quarantineDir(): string {
    for (const stage of this.exe.plan.stages) {
      for (const op of stage.ops) {
        if (op.kind === "write" && op.pattern !== null) {
          const dir = path.dirname(op.pattern.replace(/\{[^}]*\}.*$/, "x"))
          return path.join(dir, "_quarantine")
        }
      }
    }
    return path.join(process.cwd(), "zephyr-quarantine")
  }

  private mapEffect(op: Op.OfKind<"mapEffect">, stream: Stream.ChunkStream): Stream.ChunkStream {
    const fn = this.impl(op.id, "mapEffect").fn
    const ctx = this.ctx
    const runtime = this.env.runtime
    return Stream.throughAsync(stream, async (chunk) => {
      const effect = Effect.forEach(chunk, (item) => Effect.suspend(() => fn(item)), { concurrency: op.concurrency }).pipe(Effect.locally(TaskContext.fiberRef, ctx))
      const exit = await Runtime.runPromiseExit(runtime)(effect)
      if (Exit.isSuccess(exit)) return exit.value
      throw new UserCodeError(op, Cause.squash(exit.cause))
    })
  }

  /** A sync consumer of the whole shard: async input is materialised first. */
  private whole(stream: Stream.ChunkStream, consume: (s: Extract<Stream.ChunkStream, { sync: true }>) => Stream.ChunkStream): Stream.ChunkStream {
    if (stream.sync) return consume(stream)
    const self = this
    return Stream.fromAsync(async function* () {
      const synced = await self.materialise(stream)
      yield* Stream.asAsync(consume(synced))
    })
  }

  private async materialise(stream: Stream.ChunkStream): Promise<Extract<Stream.ChunkStream, { sync: true }>> {
    const memory: Array<Stream.Chunk> = []
    let count = 0
    let writer: BlockFile.BlockWriter | undefined
    await Stream.drain(stream, (chunk) => {
      if (writer) { writer.write(chunk); return }
      memory.push(chunk)
      count += chunk.length
      if (count > MATERIALISE_IN_MEMORY) {
        writer = new BlockFile.BlockWriter(BlockFile.uniqueName(this.scratch, "materialised", ".blk"))
        for (const c of memory.splice(0)) writer.write(c)
      }
    })
    if (writer) {
      const file = writer.close().path
      return { sync: true, chunks: () => BlockFile.read(file) }
    }
    return { sync: true, chunks: () => memory[Symbol.iterator]() }
  }

  private mapShard(op: Op.Op, stream: Extract<Stream.ChunkStream, { sync: true }>): Stream.ChunkStream {
    const fn = this.impl(op.id, "mapShard").fn
    const self = this
    const info = { shardIdx: this.task.shard, totalShards: this.task.totalShards }
    return Stream.fromSync(function* () {
      const upstream = stream.chunks()
      try {
        const result = self.user(op, () => fn(Stream.items(upstream), info))
        if (result === null || result === undefined || typeof (result as Iterable<unknown>)[Symbol.iterator] !== "function") {
          throw new UserCodeError(op, new TypeError(`mapShard${op.name ? `(${op.name})` : ""} must return an iterable, got ${result === null ? "null" : typeof result}`))
        }
        const it = self.user(op, () => (result as Iterable<unknown>)[Symbol.iterator]())
        let out: Array<unknown> = []
        const next = () => it.next()
        for (let r = self.user(op, next); !r.done; r = self.user(op, next)) {
          out.push(r.value)
          if (out.length >= 1024) { yield out; out = [] }
        }
        if (out.length > 0) yield out
      } finally {
        upstream.return?.()
      }
    })
  }

  /** reduce/count: a shard (or the gathered partials) folds into at most one item; an empty input gives none. */
  private fold(op: Op.OfKind<"reduce" | "count">, stream: Stream.ChunkStream): Stream.ChunkStream {
    if (op.kind === "count") {
      const local = op.role === "local"
      return Stream.fromAsync(async function* () {
        let n = 0, seen = false
        await Stream.drain(stream, (chunk) => {
          if (chunk.length === 0) return
          seen = true
          if (local) n += chunk.length
          else for (const p of chunk) n += p as number
        })
        if (seen) yield [n]
      })
    }
    const impl = this.impl(op.id, "fold")
    const f = op.role === "global" ? impl.global : impl.local
    return this.whole(stream, (s) => {
      const self = this
      return Stream.fromSync(function* () {
        const upstream = s.chunks()
        const first = upstream.next()
        if (first.done) return
        const all = (function* () { yield* first.value; yield* Stream.items(upstream) })()
        yield [self.user(op, () => f(all))]
      })
    })
  }

  private join(op: Op.OfKind<"sortedMergeJoin">, stream: Stream.ChunkStream): Stream.ChunkStream {
    const impl = this.impl(op.id, "join")
    const right = this.task.right
    if (!right || right.kind !== "chunks") throw new Error(`Internal: stage ${this.stage.id} joins but its task has no right side`)
    const rightItems = Stream.items(readRefs(right.refs).chunks() as Iterator<Stream.Chunk>)
    return Stream.through(stream, this.wrap(op, mergeJoin({
      right: rightItems,
      leftKey: impl.leftKey,
      rightKey: impl.rightKey,
      combiner: impl.combiner,
      how: op.how,
      where: `shard ${this.task.shard} of stage ${this.stage.id} (right side: stage ${op.rightStage})`
    })))
  }

  // ---- outputs --------------------------------------------------------------------------

  private outputPath(op: Op.OfKind<"write">): string {
    const pattern = this.impl(op.id, "write").pattern
    return this.user(op, () => OutputPath.format(pattern, this.task.shard, this.task.totalShards))
  }

  private async write(op: Op.OfKind<"write">, stream: Stream.ChunkStream): Promise<ShardOutput> {
    const target = this.outputPath(op)
    const impl = this.impl(op.id, "write")
    await attributeAsync(op, () => Writers.write({ path: target, format: op.format, options: impl.options, counters: this.ctx.counters }, Stream.asAsync(stream)))
    return { kind: "chunks", refs: [BlockFile.inline([target])] }
  }

  private async scatter(op: Op.OfKind<"groupBy" | "deduplicate">, stream: Stream.ChunkStream): Promise<ShardOutput> {
    const dir = ExecutionDir.scatterDir(this.env.executionDir, this.task)
    const group = op.kind === "groupBy" ? this.impl(op.id, "groupBy") : undefined
    const key = op.kind === "groupBy" ? group!.key : this.impl(op.id, "deduplicate").key
    const writer = new ScatterWriter({
      dir,
      numTargets: op.numOutputShards ?? this.task.totalShards,
      key,
      sortBy: group?.sortBy,
      combiner: group ? group.combiner : keepFirst,
      memoryBudgetBytes: this.env.memoryBudgetBytes,
      counters: this.ctx.counters
    })
    try {
      await Stream.drain(stream, (chunk) => this.user(op, () => writer.add(chunk)))
      const out = this.user(op, () => writer.finish())
      return { kind: "scatter", manifest: out.manifest, itemsPerTarget: [...out.itemsPerTarget] }
    } catch (e) {
      writer.abort()
      throw e
    }
  }

  /** Small outputs travel inline; bigger ones go to one chunk file of coalesced blocks. */
  private async collect(stream: Stream.ChunkStream): Promise<Array<ChunkRef>> {
    let inline: Array<unknown> | undefined = []
    let pending: Array<unknown> = []
    let writer: BlockFile.BlockWriter | undefined
    const dir = ExecutionDir.shardDir(this.env.executionDir, this.task)
    try {
      await Stream.drain(stream, (chunk) => {
        if (inline) {
          for (let i = 0; i < chunk.length; i++) inline.push(chunk[i])
          if (inline.length <= INLINE_MAX) return
          writer = new BlockFile.BlockWriter(BlockFile.uniqueName(dir, `a${this.task.attempt}`, ".blk"))
          pending = inline
          inline = undefined
        } else {
          for (let i = 0; i < chunk.length; i++) pending.push(chunk[i])
        }
        if (pending.length >= BLOCK_ITEMS) { writer!.write(pending); pending = [] }
      })
      if (inline) return inline.length === 0 ? [] : [BlockFile.inline(inline)]
      writer!.write(pending)
      const written = writer!.close()
      this.ctx.counters.increment("zephyr/chunk_bytes_written", written.bytes)
      return [{ kind: "file", path: written.path, count: written.count, skip: 0, take: written.count }]
    } catch (e) {
      writer?.abort()
      throw e
    }
  }
}

function keepFirst(_key: unknown, items: Iterable<unknown>): Iterable<unknown> {
  for (const item of items) return [item]
  return []
}

async function* attributed(op: Op.Op, source: AsyncIterable<ReadonlyArray<unknown>>): AsyncGenerator<ReadonlyArray<unknown>> {
  try {
    yield* source
  } catch (e) {
    throw e instanceof UserCodeError || e instanceof ZephyrWorkerError ? e : new UserCodeError(op, e)
  }
}

/** The items of a list of chunk refs, in order. */
export const readRefs = (refs: ReadonlyArray<ChunkRef>): Extract<Stream.ChunkStream, { sync: true }> => ({
  sync: true,
  chunks: function* () {
    for (const ref of refs) {
      if (ref.kind === "inline") { if (ref.count > 0) yield BlockFile.inlineItems(ref) }
      else if (ref.take > 0) yield* BlockFile.read(ref.path, { skip: ref.skip, take: ref.take })
    }
  }
})

export const readManifestList = (file: string): Array<string> => {
  const out: Array<string> = []
  for (const block of BlockFile.read(file)) for (const m of block) out.push(m as string)
  return out
}
