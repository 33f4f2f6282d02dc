import type { Schema } from "effect"
import type { CounterSet } from "../task/CounterSet.ts"
import type * as Expr from "../../plan/Expr.ts"
import type * as Op from "../../plan/Op.ts"
import { type LoadKind, OpKind } from "../../plan/OpKind.ts"
import { BadRows } from "./BadRows.ts"
import { dataError, fromObjectStore, isMissingFile } from "./DataError.ts"
import { codecOf, formatOf } from "./FileType.ts"
import * as Jsonl from "./Jsonl.ts"
import { RowDecoder } from "./RowDecoder.ts"
import * as Text from "./Text.ts"

export interface ReadRequest {
  readonly path: string
  readonly kind: LoadKind
  /** "auto" (loadFile): pick the reader by extension. */
  readonly format: Op.LoadFormat
  /**
   * Columns needed downstream (a hint; null = all). Parquet reads only these columns; a JSONL
   * row keeps only these fields, unless rows are decoded with a schema (which may need others).
   */
  readonly columns: ReadonlyArray<string> | null
  /** Rows for which it is false may be skipped. Parquet skips row groups whose statistics prove it false. */
  readonly filter: Expr.Expr | null
  readonly includeFilePaths: boolean
  readonly filePathColumn: string
  /** Each row is decoded with it (element = Schema.Type). */
  readonly schema: Schema.Schema<any, any, never> | undefined
  readonly onBadRow: "fail" | "skip" | "quarantine"
  /** A row range of a Parquet file (a split; see splitFile). */
  readonly rows?: { readonly start: number; readonly end: number } | undefined
  /** Where `quarantine` writes its side file(s). */
  readonly quarantineDir: string
  readonly counters: CounterSet
  /** Any other options the user passed to the load/read call (e.g. CSV delimiter, header). */
  readonly options: Readonly<Record<string, unknown>>
}

/**
 * CSV and Parquet bring large libraries: they are loaded when a file of theirs is first read,
 * so every other run (and every process start) skips them.
 */
const csv = () => import("./Csv.ts")
const parquet = () => import("./ParquetRead.ts")

export const RECORDS_IN = "zephyr/records_in"
export const BYTES_READ = "zephyr/bytes_read"

/**
 * Rows of one file in chunks (up to Chunks.CHUNK_ROWS rows); errors are ZephyrWorkerErrors naming the
 * file and line (or row). Bad rows follow `onBadRow`; a quarantine side file is published
 * when the read ends (also when the consumer stops early) and dropped when it fails.
 */
export async function* read(request: ReadRequest): AsyncGenerator<ReadonlyArray<unknown>> {
  const file = request.path
  const format = formatOf(file, request.format)
  const codec = codecOf(file)
  const bad = new BadRows(file, request.onBadRow, request.counters, request.quarantineDir, format === "parquet" ? "row" : "line", request.rows)
  const loadText = request.kind === OpKind.loadText
  const filePathColumn = request.includeFilePaths && !loadText ? request.filePathColumn : undefined
  const decoder = new RowDecoder(bad, request.schema, filePathColumn)
  const onRead = (n: number) => request.counters.increment(BYTES_READ, n)
  const rows =
    format === "jsonl" ? Jsonl.read(file, codec, decoder, bad, onRead, request.schema === undefined ? request.columns : null)
    : format === "text" ? Text.read(file, codec, !loadText, decoder, bad, onRead)
    : format === "csv" ? (await csv()).read(file, codec, request.options, request.onBadRow, decoder, bad, onRead)
    : (await parquet()).read({
      file,
      columns: request.columns,
      filter: request.filter,
      rows: request.rows,
      schema: request.schema,
      filePathColumn,
      counters: request.counters,
      onRead
    }, decoder, bad)
  let failed = false
  try {
    for await (const chunk of rows) {
      request.counters.increment(RECORDS_IN, chunk.length)
      yield chunk
    }
  } catch (e) {
    failed = true
    if (isMissingFile(e)) throw dataError(`Cannot read ${file}: ${(e as Error).message}`, { file, cause: e, reason: "missing-input" })
    throw fromObjectStore(e)
  } finally {
    if (failed) bad.abort()
    else await bad.commit().catch((e) => { throw fromObjectStore(e) })
  }
}

/**
 * For `approxShardBytes`: contiguous row ranges of a Parquet file aligned to row groups,
 * covering the file in order; null (read the whole file) for other formats.
 */
export const splitFile = async (path: string, approxShardBytes: number): Promise<ReadonlyArray<{ readonly start: number; readonly end: number }> | null> => {
  try {
    return await (await parquet()).splitFile(path, approxShardBytes)
  } catch (e) {
    if (isMissingFile(e)) throw dataError(`Cannot read ${path}: ${(e as Error).message}`, { file: path, cause: e, reason: "missing-input" })
    throw fromObjectStore(e)
  }
}
