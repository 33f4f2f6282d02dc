import * as path from "node:path"
import { SchemaAST as AST, type Schema } from "effect"
import { parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type FileMetaData, type SchemaTree } from "hyparquet"
import { compressors } from "hyparquet-compressors"
import type { CounterSet } from "../task/CounterSet.ts"
import * as ObjectStore from "../storage/ObjectStore.ts"
import type * as Expr from "../../plan/Expr.ts"
import type { BadRows } from "./BadRows.ts"
import { CHUNK_ROWS } from "./Chunks.ts"
import { CorruptInput } from "./Compression.ts"
import { errorMessage, isIoError } from "./DataError.ts"
import { mayMatch } from "./ParquetStatistics.ts"
import { DROPPED, type RowDecoder } from "./RowDecoder.ts"

/**
 * Parquet reading on `hyparquet` (pure JS; ZSTD, GZIP, Brotli, LZ4 and fast Snappy pages
 * through `hyparquet-compressors`). Reads one row group at a time, only the requested
 * top-level columns, and skips row groups whose statistics prove the pushed filter false.
 * INT64 values come back as numbers when they are safe integers (bigint otherwise);
 * every requested column is present in every row (null when the file has no value).
 */
export const ROW_GROUPS_READ = "zephyr/row_groups_read"
export const ROW_GROUPS_SKIPPED = "zephyr/row_groups_skipped"

/** A file opened for hyparquet's random reads (a local file's handle, an object's ranged GETs), counting the bytes it reads. */
interface Source {
  readonly buffer: AsyncBuffer
  readonly close: () => Promise<void>
}

const asArrayBuffer = (bytes: Uint8Array): ArrayBuffer =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer)

const open = async (file: string, onRead: (n: number) => void): Promise<Source> => {
  const access = await ObjectStore.of(file).random(file, onRead)
  const buffer: AsyncBuffer = {
    byteLength: access.size,
    slice: async (start: number, end: number = access.size) => asArrayBuffer(await access.read(start, end))
  }
  return { buffer, close: access.close }
}

const metadataOf = async (source: Source, file: string): Promise<FileMetaData> => {
  try {
    // Footers are usually a few KiB; hyparquet's 512 KiB default first read is mostly data read again later.
    return await parquetMetadataAsync(source.buffer, { initialFetchSize: 1 << 16 })
  } catch (e) {
    if (isIoError(e)) throw e
    throw new CorruptInput(file, `${file} is not a readable Parquet file: ${errorMessage(e)}`)
  }
}

/** Row ranges [start, end) of the file's row groups, in order. */
const groupRanges = (metadata: FileMetaData): Array<{ start: number; end: number; bytes: number }> => {
  let start = 0
  return metadata.row_groups.map((g) => {
    const rows = Number(g.num_rows)
    const bytes = g.total_compressed_size !== undefined
      ? Number(g.total_compressed_size)
      : g.columns.reduce((n, c) => n + Number(c.meta_data?.total_compressed_size ?? 0n), 0)
    const range = { start, end: start + rows, bytes }
    start += rows
    return range
  })
}

const hasInt64 = (tree: SchemaTree): boolean =>
  tree.children.length === 0 ? tree.element.type === "INT64" : tree.children.some(hasInt64)

/** bigints that fit in a double's integer range become numbers, inside lists and structs too. */
const safeNumbers = (v: unknown): unknown => {
  if (typeof v === "bigint") return v >= Number.MIN_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER ? Number(v) : v
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = safeNumbers(v[i])
    return v
  }
  if (v !== null && typeof v === "object" && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    for (const k in v) (v as Record<string, unknown>)[k] = safeNumbers((v as Record<string, unknown>)[k])
  }
  return v
}

/**
 * Whether decoded rows hold the file's values unchanged, so that statistics speak for them:
 * true without a schema, or with one that only checks (no transformations or defaults).
 */
const statisticsApply = (schema: Schema.Schema<any, any, never> | undefined): boolean => {
  if (schema === undefined) return true
  const seen = new Set<AST.AST>()
  const transforms = (ast: AST.AST): boolean => {
    if (seen.has(ast)) return false
    seen.add(ast)
    switch (ast._tag) {
      case "Transformation": return true
      case "Declaration": {
        const id = AST.getIdentifierAnnotation(ast)
        return !(id._tag === "Some" && ["DateFromSelf", "ValidDateFromSelf", "Uint8ArrayFromSelf"].includes(id.value))
      }
      case "Refinement": return transforms(ast.from)
      case "Suspend": return transforms(ast.f())
      case "Union": return ast.types.some(transforms)
      case "TupleType": return ast.elements.some((e) => transforms(e.type)) || ast.rest.some((e) => transforms(e.type))
      case "TypeLiteral": return ast.propertySignatures.some((p) => transforms(p.type)) || ast.indexSignatures.some((i) => transforms(i.type))
      default: return false
    }
  }
  return !transforms(schema.ast)
}

export interface ParquetReadRequest {
  readonly file: string
  readonly columns: ReadonlyArray<string> | null
  readonly filter: Expr.Expr | null
  readonly rows: { readonly start: number; readonly end: number } | undefined
  readonly schema: Schema.Schema<any, any, never> | undefined
  /** The file path column when `includeFilePaths` is set: not in the file, known for every row. */
  readonly filePathColumn: string | undefined
  readonly counters: CounterSet
  readonly onRead: (n: number) => void
}

export async function* read(req: ParquetReadRequest, decoder: RowDecoder, bad: BadRows): AsyncGenerator<Array<unknown>> {
  const source = await open(req.file, req.onRead)
  try {
    const metadata = await metadataOf(source, req.file)
    const top = parquetSchema(metadata).children
    const present = new Set(top.map((c) => c.element.name))
    const wanted = req.columns === null ? top : top.filter((c) => req.columns!.includes(c.element.name))
    const names = wanted.map((c) => c.element.name)
    const bigints = wanted.some(hasInt64)
    const constants = new Map<string, string>(req.filePathColumn === undefined ? [] : [[req.filePathColumn, req.file]])
    const prune = req.filter !== null && statisticsApply(req.schema) ? req.filter : null
    const limit = req.rows ?? { start: 0, end: Infinity }
    const groups = groupRanges(metadata)
    for (let g = 0; g < groups.length; g++) {
      const range = groups[g]!
      const lo = Math.max(range.start, limit.start)
      const hi = Math.min(range.end, limit.end)
      if (lo >= hi) continue
      if (prune !== null && !mayMatch(prune, { group: metadata.row_groups[g]!, present, constants })) {
        req.counters.increment(ROW_GROUPS_SKIPPED, 1)
        continue
      }
      req.counters.increment(ROW_GROUPS_READ, 1)
      let objects: Array<Record<string, unknown>>
      try {
        objects = names.length === 0
          ? Array.from({ length: hi - lo }, () => ({}))
          : await parquetReadObjects({ file: source.buffer, metadata, columns: names, rowStart: lo, rowEnd: hi, compressors, utf8: false })
      } catch (e) {
        if (isIoError(e)) throw e
        const corrupt = new CorruptInput(req.file, `${req.file} has a row group that cannot be decoded (rows ${lo + 1} to ${hi}): ${errorMessage(e)}`)
        corrupt.line = lo + 1
        throw corrupt
      }
      for (let at = 0; at < objects.length; at += CHUNK_ROWS) {
        const slice = objects.slice(at, at + CHUNK_ROWS)
        const out: Array<unknown> = []
        for (let i = 0; i < slice.length; i++) {
          const row = complete(slice[i]!, names, bigints)
          if (decoder.identity) { out.push(row); continue }
          const decoded = decoder.decode(row, lo + at + i + 1)
          if (decoded !== DROPPED) out.push(decoded)
        }
        if (out.length > 0) yield out
      }
    }
  } catch (e) {
    if (!(e instanceof CorruptInput)) throw e
    bad.corrupt(e)
  } finally {
    await source.close()
  }
}

/** The row with every requested column (null when absent), in the file's column order. */
const complete = (row: Record<string, unknown>, names: ReadonlyArray<string>, bigints: boolean): Record<string, unknown> => {
  let missing = false
  for (const n of names) {
    const v = row[n]
    if (v === undefined) missing = true
    else if (bigints) row[n] = safeNumbers(v)
  }
  if (!missing) return row
  const out: Record<string, unknown> = {}
  for (const n of names) out[n] = row[n] ?? null
  return out
}

const MAGIC = Buffer.from("PAR1")

/** Parquet by extension, or by its leading magic bytes. */
const isParquet = async (file: string): Promise<boolean> => {
  if (path.extname(file).toLowerCase() === ".parquet") return true
  const access = await ObjectStore.of(file).random(file, () => {})
  try {
    return Buffer.from(await access.read(0, 4)).equals(MAGIC)
  } finally {
    await access.close()
  }
}

/**
 * Contiguous row ranges of a Parquet file, each whole row groups adding up to about
 * `approxShardBytes` of compressed data (a single larger group is a range of its own),
 * covering the file in order; null for other formats (read whole).
 */
export const splitFile = async (file: string, approxShardBytes: number): Promise<ReadonlyArray<{ readonly start: number; readonly end: number }> | null> => {
  if (!(await isParquet(file))) return null
  const source = await open(file, () => {})
  let metadata: FileMetaData
  try {
    metadata = await metadataOf(source, file)
  } catch (e) {
    // The read reports a corrupt file under its bad-row policy.
    if (e instanceof CorruptInput) return null
    throw e
  } finally {
    await source.close()
  }
  const out: Array<{ start: number; end: number }> = []
  let start = 0, end = 0, bytes = 0
  for (const g of groupRanges(metadata)) {
    if (end > start && bytes + g.bytes > approxShardBytes) {
      out.push({ start, end })
      start = end
      bytes = 0
    }
    end = g.end
    bytes += g.bytes
  }
  out.push({ start, end })
  return out
}
