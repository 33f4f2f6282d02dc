import * as AnyArray from "../AnyArray.ts"

/**
 * Readers emit rows in chunks of up to `CHUNK_ROWS` rows, cut earlier once the chunk's
 * source text passes `CHUNK_CHARS`, so that neither many small rows nor a few huge ones
 * make a chunk unwieldy.
 */
export const CHUNK_ROWS = 4096
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
