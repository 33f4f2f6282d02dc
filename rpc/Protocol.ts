import { ParseResult, Schema } from "effect"
import { Snapshot } from "../runtime/task/CounterSet.ts"
import { ZephyrWorkerError } from "../plan/Errors.ts"
import { ModuleRef } from "../plan/ModuleRef.ts"

/**
 * The messages between the coordinator and its workers. Data never travels here: a task
 * names its input in chunk storage, a report names its output there. Only tiny outputs
 * (a write's path, a fold's partial; at most Outputs.INLINE_MAX_BYTES) are carried inline,
 * far below the coordinator's message limit (Transport.limits).
 */

/**
 * Part of a shard's data: a range of a chunk file, or a few items inline. Inline items
 * travel as bytes in the chunk format (BlockFile's msgpack), so user data that the RPC
 * codec would reject (big integers, say) never reaches it.
 */
export const ChunkRef = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("file"), path: Schema.String, count: Schema.Number, skip: Schema.Number, take: Schema.Number }),
  Schema.Struct({ kind: Schema.Literal("inline"), count: Schema.Number, bytes: Schema.Uint8ArrayFromSelf })
)
export type ChunkRef = typeof ChunkRef.Type

export const refCount = (ref: ChunkRef): number => (ref.kind === "file" ? ref.take : ref.count)

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/**
 * Numbers as packed little-endian float64 bytes on the wire (msgpack `bin`), a Float64Array
 * in memory: one copy to decode, none to encode, where an array of numbers is validated and
 * encoded one element at a time. Decoding copies into a buffer of its own, so a kept value
 * never pins the socket buffer it arrived in. What the numbers must be is checked where they
 * are read (SegmentIndex).
 */
export const PackedNumbers = Schema.transformOrFail(
  Schema.Uint8ArrayFromSelf,
  Schema.declare((u: unknown): u is Float64Array => u instanceof Float64Array, { identifier: "Float64Array" }),
  {
    strict: true,
    decode: (bytes, _, ast) => {
      if (bytes.byteLength % 8 !== 0) return ParseResult.fail(new ParseResult.Type(ast, bytes, `packed numbers must be a multiple of 8 bytes, not ${bytes.byteLength}`))
      const out = new Float64Array(bytes.byteLength / 8)
      if (littleEndian) new Uint8Array(out.buffer).set(bytes)
      else {
        const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true)
      }
      return ParseResult.succeed(out)
    },
    encode: (numbers) => {
      if (littleEndian) return ParseResult.succeed(new Uint8Array(numbers.buffer, numbers.byteOffset, numbers.byteLength))
      const out = new Uint8Array(numbers.length * 8)
      const view = new DataView(out.buffer)
      for (let i = 0; i < numbers.length; i++) view.setFloat64(i * 8, numbers[i]!, true)
      return ParseResult.succeed(out)
    }
  }
)

/** Where a task's shard comes from. */
export const ShardInput = Schema.Union(
  /** Item `index` of the pipeline's list source. */
  Schema.Struct({ kind: Schema.Literal("list"), index: Schema.Number }),
  /** One file of a file source (a row range of it when split). */
  Schema.Struct({ kind: Schema.Literal("file"), path: Schema.String, rows: Schema.optional(Schema.Struct({ start: Schema.Number, end: Schema.Number })) }),
  /** Items of a previous stage's output. */
  Schema.Struct({ kind: Schema.Literal("chunks"), refs: Schema.Array(ChunkRef) }),
  /**
   * Target shard `target` of a shuffle, with its own segment list only (never the mappers'
   * whole manifests). `files` are the run files that hold its segments, one per line,
   * relative to `dir` (in the execution's directory: the worker refuses any other); and
   * `segments` is `[file, offset, length, count, maxBlock]` per segment (`file` indexes
   * `files`), packed, in mapper then run order (SegmentIndex). Binary and one string, not
   * 10^4 paths and 5·10^4 numbers: a 1,000-way reduce of 10,000 mappers encodes in about a
   * millisecond instead of 46.
   */
  Schema.Struct({
    kind: Schema.Literal("shuffle"),
    target: Schema.Number,
    sorted: Schema.Boolean,
    dir: Schema.String,
    files: Schema.String,
    segments: PackedNumbers
  })
)
export type ShardInput = typeof ShardInput.Type

export const Task = Schema.Struct({
  executionId: Schema.String,
  stage: Schema.Number,
  generation: Schema.Number,
  shard: Schema.Number,
  totalShards: Schema.Number,
  attempt: Schema.Number,
  input: ShardInput,
  /** For a stage with a sortedMergeJoin: shard `shard` of the right side's output. */
  right: Schema.optional(ShardInput)
})
export type Task = typeof Task.Type

/**
 * What a mapper wrote for a shuffle, compact, so that the coordinator can hand each
 * reducer its own segment list: the run files (names relative to the manifest's directory,
 * with their largest block) and, packed, `[run, target, offset, length, count]` per
 * non-empty segment, in run then target order. A mapper with too many segments to report leaves it
 * out; the coordinator then reads its manifest (SegmentIndex).
 */
export const ScatterIndex = Schema.Struct({
  sorted: Schema.Boolean,
  runs: Schema.Array(Schema.Tuple(Schema.String, Schema.Number)),
  segments: PackedNumbers
})
export type ScatterIndex = typeof ScatterIndex.Type

export const ShardOutput = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("chunks"), refs: Schema.Array(ChunkRef) }),
  Schema.Struct({ kind: Schema.Literal("scatter"), manifest: Schema.String, index: Schema.optional(ScatterIndex) })
)
export type ShardOutput = typeof ShardOutput.Type

/**
 * The built-in counters of one task, summed per stage by the coordinator: records in are
 * the rows a stage read from files, or else the items its input gave it (a shuffle's
 * items for a reduce, a join's right side included); bytes in what it read from files,
 * chunk files and shuffle runs; records and bytes out what it wrote (chunks, a shuffle's
 * runs, a user's file).
 */
export const StageIo = Schema.Struct({ recordsIn: Schema.Number, bytesIn: Schema.Number, recordsOut: Schema.Number, bytesOut: Schema.Number })
export type StageIo = typeof StageIo.Type

const reportHead = {
  executionId: Schema.String,
  stage: Schema.Number,
  generation: Schema.Number,
  shard: Schema.Number,
  attempt: Schema.Number,
  counters: Snapshot,
  durationMs: Schema.Number,
  io: Schema.optional(StageIo)
}

/**
 * A final output file written by one attempt under its own hidden name (`pending`, beside
 * `target`): the coordinator renames it over `target` only if it accepts the report, and
 * removes it otherwise, so a late attempt never overwrites the accepted one. For an object
 * storage target (`s3://`), `pending` is the id of the attempt's incomplete multipart upload
 * and `parts` its parts (number and ETag): the coordinator completes it or aborts it.
 */
export const OutputCommit = Schema.Struct({
  pending: Schema.String,
  target: Schema.String,
  parts: Schema.optional(Schema.Array(Schema.Tuple(Schema.Number, Schema.String)))
})
export type OutputCommit = typeof OutputCommit.Type

export const Report = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("done"), ...reportHead, output: ShardOutput, commit: Schema.optional(OutputCommit) }),
  Schema.Struct({
    kind: Schema.Literal("failed"),
    ...reportHead,
    error: ZephyrWorkerError,
    /** A deterministic data error (bad input, bad pattern): retrying cannot help. */
    permanent: Schema.Boolean,
    /** Not the user's fault (a disk error in chunk storage, a full disk): counted as an infrastructure failure. */
    infrastructure: Schema.optional(Schema.Boolean)
  })
)
export type Report = typeof Report.Type

/** What a worker learns when it says hello: how to rebuild the plan and how to behave. */
export const JobSpec = Schema.Struct({
  executionId: Schema.String,
  module: Schema.optional(ModuleRef),
  fingerprint: Schema.String,
  executionDir: Schema.String,
  heartbeatIntervalMs: Schema.Number,
  memoryBudgetBytes: Schema.Number,
  sharedNames: Schema.Array(Schema.String),
  /** How long a worker keeps dialling after its connection to the coordinator broke (RunOptions reconnectTimeout). */
  reconnectTimeoutMs: Schema.optional(Schema.Number),
  /** The largest message the coordinator accepts: workers send their reports in pulls below it. */
  maxMessageBytes: Schema.optional(Schema.Number),
  /** The columns loads read, by op id: what the module's analysis found its functions read (ReadColumns). */
  readColumns: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) })),
  /** The fields combiners only sum, by op id: what the module's analysis found (CombineSums). */
  combineSums: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) })),
  /** How the driver reaches object storage (endpoint, region, path style; never credentials). */
  s3: Schema.optional(Schema.Struct({ endpoint: Schema.optional(Schema.String), region: Schema.String, forcePathStyle: Schema.Boolean }))
})
export type JobSpec = typeof JobSpec.Type

export const PullResponse = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("tasks"), tasks: Schema.Array(Task) }),
  Schema.Struct({ kind: Schema.Literal("backoff"), ms: Schema.Number }),
  Schema.Struct({ kind: Schema.Literal("shutdown"), reason: Schema.String })
)
export type PullResponse = typeof PullResponse.Type
