import * as AnyArray from "../AnyArray.ts"

/**
 * Readers emit rows in chunks of up to `CHUNK_ROWS` rows, cut earlier once the chunk's
 * source text passes `CHUNK_CHARS`, so that neither many small rows nor a few huge ones
 * make a chunk unwieldy.
 *
 * 1024 rows: a stage passes over a chunk's rows once per operator (map, then the scatter),
 * and 1024 rows of a typical JSONL row (about 300 bytes of objects and strings) stay in a
 * core's 1 MB L2 cache between passes, where 4096 did not. 2 workers on 2 cores, 6
 * alternating runs each: group-by-count 1.26–1.45 s (4096: 1.30–1.58), map → filter →
 * write 1.28–1.38 s (1.34–1.45). 512 rows were slower on both; 2048 tied on the first
 * and were slower on the second. Word count, dedup and the memory bench's peak RSS did
 * not change.
 */
export const CHUNK_ROWS = 1024
export const CHUNK_CHARS = 1 << 22

export class ChunkBuilder {
  private rows: Array<unknown> = AnyArray.empty()
  private chars = 0

  add(row: unknown, chars: number): void {
    this.rows.push(row)
    this.chars += chars
  }

  get full(): boolean {
    return this.rows.length >= CHUNK_ROWS || this.chars >= CHUNK_CHARS
  }

  get size(): number {
    return this.rows.length
  }

  /** The rows so far; the builder starts over. */
  take(): Array<unknown> {
    const out = this.rows
    this.rows = AnyArray.empty()
    this.chars = 0
    return out
  }
}
