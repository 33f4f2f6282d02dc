import type { CounterSet } from "../task/CounterSet.ts"
import type * as Op from "../../plan/Op.ts"
import { AtomicFile } from "./AtomicFile.ts"
import { compressionLevel } from "./Compression.ts"
import type { PendingUpload } from "../storage/ObjectStore.ts"
import { dataError, fromObjectStore } from "./DataError.ts"
import { codecOf } from "./FileType.ts"
import * as Jsonl from "./Jsonl.ts"
import * as Text from "./Text.ts"

export interface WriteRequest {
  /** The final path; compression by extension (.gz, .zst/.zstd); parent directories are created. */
  readonly path: string
  readonly format: Op.WriteFormat
  /** User options: parquet `schema`, `rowGroupSize`, `compression`; csv `columns`; `level` for gzip/zstd. */
  readonly options: Readonly<Record<string, unknown>>
  readonly counters: CounterSet
  /**
   * Leave the complete file for the coordinator to publish (OutputCommit) instead of making
   * it appear under `path`: locally under this name; in object storage as an incomplete
   * upload, returned as `upload`.
   */
  readonly staged?: string | undefined
}

/** CSV and Parquet libraries are loaded when a file of theirs is first written (see Readers). */
const csv = () => import("./Csv.ts")
const parquet = () => import("./ParquetWrite.ts")

export const RECORDS_OUT = "zephyr/records_out"
export const BYTES_WRITTEN = "zephyr/bytes_written"

export interface Written {
  readonly path: string
  readonly rows: number
  readonly bytes: number
  /** A staged object-storage output: the upload to complete. */
  readonly upload?: PendingUpload | undefined
}

/**
 * Writes one file atomically (locally a hidden temporary name in the same directory, renamed
 * at the end; in object storage a multipart upload, completed at the end; or either left
 * staged for the coordinator to publish) from chunks of items. Empty input still produces a
 * valid file.
 */
export const write = async (request: WriteRequest, chunks: AsyncIterable<ReadonlyArray<unknown>>): Promise<Written> => {
  try {
    return await writeFile(request, chunks)
  } catch (e) {
    throw fromObjectStore(e)
  }
}

const writeFile = async (request: WriteRequest, chunks: AsyncIterable<ReadonlyArray<unknown>>): Promise<Written> => {
  const file = request.path
  const codec = codecOf(file)
  const counted = (n: number) => request.counters.increment(RECORDS_OUT, n)
  let result: { rows: number; bytes: number; upload?: PendingUpload | undefined }
  if (request.format === "parquet") {
    if (codec !== "none") {
      throw dataError(`Cannot write Parquet to ${file}: Parquet compresses its pages itself; drop the .gz/.zst extension and use the compression option`, { file })
    }
    result = await (await parquet()).write(file, chunks, request.options, counted, request.staged)
  } else {
    const level = compressionLevel(codec, request.options.level, file)
    const csvEncoder = request.format === "csv" ? new (await csv()).Encoder(request.options, file) : undefined
    const encode = (items: ReadonlyArray<unknown>): string =>
      csvEncoder !== undefined ? csvEncoder.encode(items) : request.format === "jsonl" ? Jsonl.encode(items, file) : Text.encode(items)
    const out = await AtomicFile.open(file, codec, level, request.staged)
    try {
      let rows = 0
      for await (const items of chunks) {
        await out.write(Buffer.from(encode(items)))
        rows += items.length
        counted(items.length)
      }
      if (csvEncoder !== undefined) await out.write(Buffer.from(csvEncoder.end()))
      const bytes = await out.commit()
      result = { rows, bytes, upload: out.pendingUpload }
    } catch (e) {
      await out.abort()
      throw e
    }
  }
  request.counters.increment(BYTES_WRITTEN, result.bytes)
  return { path: file, ...result }
}
