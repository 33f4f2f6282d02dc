import type { BadRows } from "./BadRows.ts"
import { ChunkBuilder } from "./Chunks.ts"
import { CorruptInput, decompressed } from "./Compression.ts"
import type { Codec } from "./FileType.ts"
import { lines } from "./Lines.ts"
import { DROPPED, type RowDecoder } from "./RowDecoder.ts"

/**
 * Plain text (`.txt`): one row per line, without its `\n` or `\r\n`; empty lines are rows
 * too. `loadText` gives the strings; `loadFile` gives `{ text }` objects so that a file path
 * column can be added. A line that is not valid UTF-8 is a bad row.
 */
export async function* read(file: string, codec: Codec, asObjects: boolean, decoder: RowDecoder, bad: BadRows, onRead: (n: number) => void): AsyncGenerator<Array<unknown>> {
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
        let row: unknown = asObjects ? { text: line } : line
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

/** One line per item: strings as they are, anything else through `String`. */
export const encode = (items: ReadonlyArray<unknown>): string => {
  let out = ""
  for (const item of items) out += (typeof item === "string" ? item : String(item)) + "\n"
  return out
}
