import { Readable } from "node:stream"
import { pipeline } from "node:stream/promises"
import { CsvError, parse, type Options as ParseOptions } from "csv-parse"
import { stringify } from "csv-stringify/sync"
import type * as Op from "../../plan/Op.ts"
import type { BadRows } from "./BadRows.ts"
import { ChunkBuilder } from "./Chunks.ts"
import { CorruptInput, decompressed } from "./Compression.ts"
import { dataError, errorMessage } from "./DataError.ts"
import type { Codec } from "./FileType.ts"
import { DROPPED, type RowDecoder } from "./RowDecoder.ts"

/**
 * CSV through `csv-parse` (reading) and `csv-stringify` (writing). With a header row (the
 * default) each record is an object keyed by the header; with `header: false` it is an
 * array. Values are strings unless a schema decodes them. A record that does not parse
 * (wrong field count, stray quote) is a bad row; an unclosed quote swallows the rest of the
 * file into one bad row. Options: `delimiter`, `quote`, `escape`, `comment`, `trim`,
 * `relaxQuotes`, `relaxColumnCount`, `header`.
 */
const parseOptions = (options: Readonly<Record<string, unknown>>, policy: Op.BadRowPolicy): ParseOptions => {
  const pick = <K extends keyof ParseOptions>(key: K, ...names: Array<string>): Partial<ParseOptions> => {
    for (const n of names) if (options[n] !== undefined) return { [key]: options[n] } as Partial<ParseOptions>
    return {}
  }
  return {
    bom: true,
    info: true,
    skip_empty_lines: true,
    columns: options.header !== false,
    skip_records_with_error: policy !== "fail",
    ...pick("delimiter", "delimiter"),
    ...pick("quote", "quote"),
    ...pick("escape", "escape"),
    ...pick("comment", "comment"),
    ...pick("trim", "trim"),
    ...pick("relax_quotes", "relaxQuotes", "relax_quotes"),
    ...pick("relax_column_count", "relaxColumnCount", "relax_column_count")
  }
}

/** The text of the file, checked to be UTF-8 (a `CorruptInput` otherwise). */
async function* text(file: string, bytes: AsyncIterable<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true })
  let offset = 0
  for await (const b of bytes) {
    let s: string
    try {
      s = decoder.decode(b, { stream: true })
    } catch {
      throw new CorruptInput(file, `${file} is not valid UTF-8 (in the ${b.length} bytes after byte ${offset} of its decompressed text)`)
    }
    offset += b.length
    if (s.length > 0) yield s
  }
  let tail: string
  try {
    tail = decoder.decode()
  } catch {
    throw new CorruptInput(file, `${file} ends inside a UTF-8 character`)
  }
  if (tail.length > 0) yield tail
}

interface ParsedRecord {
  readonly record: unknown
  readonly info: { readonly lines: number }
}

export async function* read(
  file: string,
  codec: Codec,
  options: Readonly<Record<string, unknown>>,
  policy: Op.BadRowPolicy,
  decoder: RowDecoder,
  bad: BadRows,
  onRead: (n: number) => void
): AsyncGenerator<Array<unknown>> {
  let parser: ReturnType<typeof parse>
  try {
    parser = parse(parseOptions(options, policy))
  } catch (e) {
    throw dataError(`Invalid CSV options for ${file}: ${(e as Error).message}`, { file })
  }
  parser.on("skip", (err: CsvError & { lines?: number; record?: unknown; raw?: unknown }) => {
    bad.reject(err.lines ?? parser.info.lines, `invalid CSV: ${err.message}`, err.record ?? err.raw ?? null)
  })
  const piped = pipeline(Readable.from(text(file, decompressed(file, codec, onRead))), parser).catch(() => { /* surfaced through the iterator below */ })
  const chunk = new ChunkBuilder()
  try {
    for await (const { record, info } of parser as AsyncIterable<ParsedRecord>) {
      let row: unknown = record
      if (!decoder.identity) {
        row = decoder.decode(row, info.lines)
        if (row === DROPPED) continue
      }
      chunk.add(row, 64)
      if (chunk.full) yield chunk.take()
    }
  } catch (e) {
    if (e instanceof CorruptInput) {
      e.line = parser.info.lines
      bad.corrupt(e)
    } else if (e instanceof CsvError) {
      const err = e as CsvError & { lines?: number; record?: unknown }
      bad.reject(err.lines ?? parser.info.lines, `invalid CSV: ${e.message}`, err.record ?? null)
    } else throw e
  } finally {
    parser.destroy()
    await piped
  }
  if (chunk.size > 0) yield chunk.take()
}

/**
 * Writes items as CSV records. The columns are the `columns` option (other keys are left
 * out), else the keys of the first chunk's objects in first-seen order (a key first seen
 * later is a data error, not a silently dropped column); the header row is written with
 * the first records (or alone at the end, for an empty input with known columns). Objects
 * are written by column (missing keys empty, nested values as JSON), arrays positionally,
 * anything else as a one-field record.
 */
export class Encoder {
  private columns: ReadonlyArray<string> | undefined
  /** Set when the columns came from the data: a key first seen later cannot join the header. */
  private known: ReadonlySet<string> | undefined
  private headerWritten = false
  private written = 0

  constructor(options: Readonly<Record<string, unknown>>, private readonly file: string) {
    const columns = options.columns
    if (columns !== undefined) {
      if (!Array.isArray(columns) || columns.length === 0 || !columns.every((c) => typeof c === "string")) {
        throw dataError(`writeCsv columns for ${file} must be a non-empty array of strings`, { file })
      }
      this.columns = columns
    }
  }

  encode(items: ReadonlyArray<unknown>): string {
    if (items.length === 0) return ""
    if (this.columns === undefined) {
      this.columns = columnsOf(items)
      this.known = new Set(this.columns)
    } else if (this.known !== undefined) this.checkKeys(items)
    this.written += items.length
    const header = !this.headerWritten && this.columns.length > 0
    this.headerWritten = true
    const records = items.map((item) => this.record(item))
    try {
      return stringify(records, { header, ...(header ? { columns: [...this.columns] } : {}), cast })
    } catch (e) {
      throw dataError(`Cannot write items as CSV to ${this.file}: ${errorMessage(e)}`, { file: this.file, cause: e })
    }
  }

  /** The header was fixed by the first chunk; dropping a later column silently would lose data. */
  private checkKeys(items: ReadonlyArray<unknown>): void {
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (item === null || typeof item !== "object" || Array.isArray(item) || item instanceof Date) continue
      for (const k in item) {
        if (!this.known!.has(k)) {
          throw dataError(
            `Cannot write item ${this.written + i + 1} to ${this.file}: its key ${JSON.stringify(k)} is not among the CSV columns taken from the first items (${this.columns!.join(", ")}); pass writeCsv's columns option to choose them`,
            { file: this.file }
          )
        }
      }
    }
  }

  /** What the file ends with: the header alone if nothing was written and columns are known. */
  end(): string {
    if (this.headerWritten || this.columns === undefined) return ""
    this.headerWritten = true
    return stringify([], { header: true, columns: [...this.columns] })
  }

  private record(item: unknown): ReadonlyArray<unknown> {
    if (Array.isArray(item)) return item
    if (item !== null && typeof item === "object" && !(item instanceof Date)) {
      return this.columns!.map((c) => (item as Record<string, unknown>)[c])
    }
    return [item]
  }
}

const columnsOf = (items: ReadonlyArray<unknown>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  for (const item of items) {
    if (item !== null && typeof item === "object" && !Array.isArray(item) && !(item instanceof Date)) {
      for (const k of Object.keys(item)) seen.add(k)
    }
  }
  return [...seen]
}

const cast = {
  boolean: (v: boolean) => String(v),
  date: (v: Date) => v.toISOString(),
  bigint: (v: bigint) => v.toString(),
  object: (v: object) => JSON.stringify(v)
}
