import type { BadRows } from "./BadRows.ts"
import { ChunkBuilder } from "./Chunks.ts"
import { CorruptInput, decompressed } from "./Compression.ts"
import type { Codec } from "./FileType.ts"
import { lines } from "./Lines.ts"
import { DROPPED, type RowDecoder } from "./RowDecoder.ts"

/** Returned by a line parser for a line that gives no row (a blank line, a bad row already reported). */
export const SKIP: unique symbol = Symbol("skip")

/**
 * Rows of a line-oriented file (JSONL, text): decompressed, split into lines, each line
 * parsed, decoded with the user's schema, in chunks. A line that is not valid UTF-8 is a
 * bad row; corrupt compressed input is one bad row and ends the file.
 */
export async function* lineRows(
  file: string,
  codec: Codec,
  decoder: RowDecoder,
  bad: BadRows,
  onRead: (n: number) => void,
  parse: (line: string, lineNumber: number) => unknown
): AsyncGenerator<Array<unknown>> {
  const chunk = new ChunkBuilder()
  try {
    for await (const block of lines(decompressed(file, codec, onRead))) {
      let n = block.first
      for (const line of block.lines) {
        const lineNumber = n++
        if (typeof line !== "string") {
          bad.reject(lineNumber, "the line is not valid UTF-8", line)
          continue
        }
        let row = parse(line, lineNumber)
        if (row === SKIP) continue
        if (!decoder.identity) {
          row = decoder.decode(row, lineNumber)
          if (row === DROPPED) continue
        }
        chunk.add(row, line.length + 1)
        if (chunk.full) yield chunk.take()
      }
    }
  } catch (e) {
    if (!(e instanceof CorruptInput)) throw e
    bad.corrupt(e)
  }
  if (chunk.size > 0) yield chunk.take()
}
