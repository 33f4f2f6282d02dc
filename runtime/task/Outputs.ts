import * as fs from "node:fs"
import * as path from "node:path"
import type * as Op from "../../plan/Op.ts"
import { OpKind } from "../../plan/OpKind.ts"
import type { ChunkRef, OutputCommit as Commit, ShardOutput } from "../../rpc/Protocol.ts"
import * as DataError from "../formats/DataError.ts"
import * as OutputCommit from "../formats/OutputCommit.ts"
import * as OutputPath from "../formats/OutputPath.ts"
import * as Writers from "../formats/Writers.ts"
import * as SegmentIndex from "../shuffle/SegmentIndex.ts"
import { ScatterWriter } from "../shuffle/ScatterWriter.ts"
import * as BlockFile from "../storage/BlockFile.ts"
import * as ExecutionDir from "../storage/ExecutionDir.ts"
import * as ObjectStore from "../storage/ObjectStore.ts"
import * as RemoteChunks from "../storage/RemoteChunks.ts"
import * as StoragePath from "../storage/StoragePath.ts"
import * as Stream from "./ChunkStream.ts"
import type { TaskScope } from "./TaskScope.ts"
import { attributeAsync } from "./UserCodeError.ts"

/**
 * Where a stage's stream ends: a user's file (`write`), the map side of a shuffle
 * (`scatter`), or chunks handed to the next stage or the driver (`collect`).
 */

/**
 * Outputs of up to this many items, and this many encoded bytes, travel inline in the
 * report instead of in a chunk file. Bytes are bounded far below the coordinator's message
 * limit (1 MiB by default): a batch of reports, or of tasks that read these outputs, must fit.
 */
export const INLINE_MAX = 64
export const INLINE_MAX_BYTES = 8 << 10
/** Items per block in chunk files. */
const BLOCK_ITEMS = 4096

export type Terminal = Op.OfKind<"write"> | Op.OfKind<"groupBy" | "deduplicate">

/** The op that ends the stage's stream as its output, if the last op is one. */
export const terminalOf = (ops: ReadonlyArray<Op.Op>): Terminal | undefined => {
  const last = ops[ops.length - 1]
  if (last === undefined) return undefined
  if (last.kind === OpKind.write) return last
  if ((last.kind === OpKind.groupBy || last.kind === OpKind.deduplicate) && last.role === "scatter") return last
  return undefined
}

export const outputPath = (scope: TaskScope, op: Op.OfKind<"write">): string => {
  const pattern = scope.impl(op).pattern
  return scope.user(op, () => OutputPath.format(pattern, scope.task.shard, scope.task.totalShards))
}

/** A `write` with `skipExisting` whose file is there: the shard's output, without running it. */
export const existing = async (scope: TaskScope, op: Op.OfKind<"write">): Promise<ShardOutput | undefined> => {
  if (!op.skipExisting) return undefined
  const target = outputPath(scope, op)
  const present = StoragePath.isS3(target)
    ? await ObjectStore.of(target).stat(target).then((s) => s !== undefined, (e) => { throw DataError.fromObjectStore(e) })
    : fs.existsSync(target)
  if (!present) return undefined
  scope.ctx.counters.increment("zephyr/shards_skipped")
  return { kind: "chunks", refs: [BlockFile.inline([target])] }
}

/** A shard's output, and the file its attempt wrote for the coordinator to publish (a `write`). */
export interface Produced {
  readonly output: ShardOutput
  readonly commit?: Commit | undefined
}

export const run = async (scope: TaskScope, terminal: Terminal | undefined, stream: Stream.ChunkStream): Promise<Produced> => {
  if (terminal === undefined) return { output: { kind: "chunks", refs: await collect(scope, stream) } }
  if (terminal.kind === OpKind.write) return write(scope, terminal, stream)
  return { output: await scatter(scope, terminal, stream) }
}

/**
 * A user's file: this attempt writes it under a pending name of its own, which the
 * coordinator renames over the target only if it accepts this attempt's report.
 */
const write = async (scope: TaskScope, op: Op.OfKind<"write">, stream: Stream.ChunkStream): Promise<Produced> => {
  const target = outputPath(scope, op)
  const impl = scope.impl(op)
  const pending = OutputCommit.pendingPath(target, scope.task.attempt)
  const written = await attributeAsync(op, () => Writers.write({ path: target, format: op.format, options: impl.options, counters: scope.ctx.counters, staged: pending }, Stream.asAsync(stream)))
  scope.io.recordsOut += written.rows
  scope.io.bytesOut += written.bytes
  return { output: { kind: "chunks", refs: [BlockFile.inline([target])] }, commit: OutputCommit.of(target, pending, written.upload) }
}

const scatter = async (scope: TaskScope, op: Op.OfKind<"groupBy" | "deduplicate">, stream: Stream.ChunkStream): Promise<ShardOutput> => {
  const group = op.kind === OpKind.groupBy ? scope.impl(op) : undefined
  const key = group !== undefined ? group.key : scope.impl(op).key
  // With chunks in object storage, runs are written to the scratch directory and uploaded at the end.
  const remote = RemoteChunks.isRemote(scope.env.executionDir)
  const dir = ExecutionDir.scatterDir(scope.env.executionDir, scope.task)
  const writer = new ScatterWriter({
    dir: remote ? path.join(scope.scratch(), StoragePath.basename(dir)) : dir,
    numTargets: op.numOutputShards ?? scope.task.totalShards,
    key,
    sortBy: group?.sortBy,
    combiner: group !== undefined ? group.combiner : keepFirst,
    sums: op.kind === OpKind.groupBy ? op.combinerSums : undefined,
    memoryBudgetBytes: scope.env.memoryBudgetBytes,
    counters: scope.ctx.counters
  })
  try {
    await Stream.drain(stream, (chunk) => scope.user(op, () => writer.add(chunk)))
    const out = scope.user(op, () => writer.finish())
    for (const n of out.itemsPerTarget) scope.io.recordsOut += n
    scope.io.bytesOut += out.bytes
    const manifest = remote ? await RemoteChunks.uploadScatter(path.dirname(out.manifest), out.manifest, dir) : out.manifest
    const index = SegmentIndex.ofRuns(out.runs, out.sorted)
    return { kind: "scatter", manifest, ...(index !== undefined ? { index } : {}) }
  } catch (e) {
    writer.abort()
    throw e
  }
}

function keepFirst(_key: unknown, items: Iterable<unknown>): Iterable<unknown> {
  for (const item of items) return [item]
  return []
}

/** Small outputs travel inline; bigger ones (in items or bytes) go to one chunk file of coalesced blocks. */
const collect = async (scope: TaskScope, stream: Stream.ChunkStream): Promise<Array<ChunkRef>> => {
  let inline: Array<unknown> | undefined = []
  let pending: Array<unknown> = []
  let writer: BlockFile.BlockWriter | undefined
  const task = scope.task
  // With chunks in object storage, the file is written to the scratch directory and uploaded once closed.
  const remote = RemoteChunks.isRemote(scope.env.executionDir)
  const open = () => new BlockFile.BlockWriter(BlockFile.uniqueName(remote ? scope.scratch() : ExecutionDir.shardDir(scope.env.executionDir, task), `a${task.attempt}`, ".blk"))
  try {
    await Stream.drain(stream, (chunk) => {
      if (inline) {
        for (let i = 0; i < chunk.length; i++) inline.push(chunk[i])
        if (inline.length <= INLINE_MAX) return
        writer = open()
        pending = inline
        inline = undefined
      } else {
        for (let i = 0; i < chunk.length; i++) pending.push(chunk[i])
      }
      if (pending.length >= BLOCK_ITEMS) { writer!.write(pending); pending = [] }
    })
    if (inline) {
      if (inline.length === 0) return []
      const ref = BlockFile.inline(inline)
      if (ref.bytes.byteLength <= INLINE_MAX_BYTES) {
        scope.io.recordsOut += ref.count
        scope.io.bytesOut += ref.bytes.byteLength
        return [ref]
      }
      writer = open()
      pending = inline
    }
    writer!.write(pending)
    const written = writer!.close()
    scope.ctx.counters.increment("zephyr/chunk_bytes_written", written.bytes)
    scope.io.recordsOut += written.count
    scope.io.bytesOut += written.bytes
    let file = written.path
    if (remote) {
      file = StoragePath.join(ExecutionDir.shardDir(scope.env.executionDir, task), path.basename(written.path))
      await RemoteChunks.upload(written.path, file)
    }
    return [{ kind: "file", path: file, count: written.count, skip: 0, take: written.count }]
  } catch (e) {
    writer?.abort()
    throw e
  }
}
