import { createHash, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { CounterSet } from "../task/CounterSet.ts"
import type * as Op from "../../plan/Op.ts"
import type { CorruptInput } from "./Compression.ts"
import * as ChunkDir from "../storage/ChunkDir.ts"
import * as Directory from "../storage/Directory.ts"
import * as ObjectStore from "../storage/ObjectStore.ts"
import * as StoragePath from "../storage/StoragePath.ts"
import { dataError } from "./DataError.ts"

export const ROWS_DROPPED = "zephyr/rows_dropped"

/**
 * The bad-row policy of one read of one file. A bad row is a line that is not JSON (or not
 * UTF-8), a CSV record that does not parse, a row that fails schema decoding, or the
 * truncated or corrupt rest of a file. `fail` throws a data error naming the file and line;
 * `skip` drops the row and counts it in `zephyr/rows_dropped`; `quarantine` also appends
 * `{ file, line, error, row }` to a side file under the quarantine folder, published
 * atomically (temp + rename) when the read ends, one per source file (and row range).
 */
export class BadRows {
  private readonly pending: Array<string> = []
  private pendingChars = 0
  private fd: number | undefined
  private tmp: string | undefined

  constructor(
    readonly file: string,
    private readonly policy: Op.BadRowPolicy,
    private readonly counters: CounterSet,
    private readonly quarantineDir: string,
    /** "line" for text formats (`file:17`), "row" for Parquet (`file row 17`); both 1-based. */
    private readonly unit: "line" | "row",
    private readonly rows?: { readonly start: number; readonly end: number } | undefined
  ) {}

  /** Where a row is, as messages print it. */
  at(line: number): string {
    return this.unit === "line" ? `${this.file}:${line}` : `${this.file} row ${line}`
  }

  /** Applies the policy to one bad row; `error` says what is wrong with it. */
  reject(line: number, error: string, row: unknown): void {
    const message = `${this.at(line)}: ${error}`
    if (this.policy === "fail") throw dataError(message, { file: this.file, line })
    this.counters.increment(ROWS_DROPPED, 1)
    if (this.policy === "quarantine") this.record({ file: this.file, line, error: message, row: quarantinedRow(row) })
  }

  /** Applies the policy to input that stopped decoding: the rest of the file is one bad row. */
  corrupt(e: CorruptInput): void {
    const line = e.line ?? 1
    const message = `${e.message}${e.line === undefined ? "" : ` (while reading ${this.unit} ${e.line})`}`
    if (this.policy === "fail") throw dataError(message, { file: this.file, line })
    this.counters.increment(ROWS_DROPPED, 1)
    if (this.policy === "quarantine") this.record({ file: this.file, line, error: `${message}; the rest of the file was not read`, row: e.partial ?? null })
  }

  /** The side file's name: the source's base name, a hash of its full path, and the row range if any. */
  sideFileName(): string {
    const hash = createHash("sha256").update(this.file).digest("hex").slice(0, 10)
    const range = this.rows ? `.rows-${this.rows.start}-${this.rows.end}` : ""
    return `${path.basename(this.file)}.${hash}${range}.quarantine.jsonl`
  }

  private record(entry: { file: string; line: number; error: string; row: unknown }): void {
    const text = JSON.stringify(entry, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) + "\n"
    this.pending.push(text)
    this.pendingChars += text.length
    if (this.pendingChars >= 1 << 20) this.drain()
  }

  private drain(): void {
    if (this.pending.length === 0) return
    if (this.fd === undefined) {
      // A quarantine folder in object storage gets the side file uploaded whole on commit; it is written in private temp space till then.
      const dir = StoragePath.isS3(this.quarantineDir) ? ChunkDir.privateUserRoot() : this.quarantineDir
      Directory.make(dir)
      this.tmp = path.join(dir, `.${this.sideFileName()}.tmp-${randomUUID().slice(0, 8)}`)
      this.fd = fs.openSync(this.tmp, "w")
    }
    fs.writeSync(this.fd, this.pending.join(""))
    this.pending.length = 0
    this.pendingChars = 0
  }

  /** Publishes the side file, if any row was quarantined. */
  async commit(): Promise<void> {
    this.drain()
    if (this.fd === undefined) return
    fs.closeSync(this.fd)
    this.fd = undefined
    if (!StoragePath.isS3(this.quarantineDir)) {
      fs.renameSync(this.tmp!, path.join(this.quarantineDir, this.sideFileName()))
      return
    }
    try {
      await (await ObjectStore.s3()).upload(this.tmp!, StoragePath.join(this.quarantineDir, this.sideFileName()))
    } finally {
      fs.rmSync(this.tmp!, { force: true })
    }
  }

  /** Drops the side file of a read that failed (its attempt will be retried or reported). */
  abort(): void {
    this.pending.length = 0
    if (this.fd === undefined) return
    fs.closeSync(this.fd)
    this.fd = undefined
    fs.rmSync(this.tmp!, { force: true })
  }
}

/** Rows as they go into the side file: bytes that are not UTF-8 are kept as base64. */
const quarantinedRow = (row: unknown): unknown =>
  row instanceof Uint8Array ? { base64: Buffer.from(row.buffer, row.byteOffset, row.byteLength).toString("base64") } : row
