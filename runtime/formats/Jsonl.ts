import type { BadRows } from "./BadRows.ts"
import { ChunkBuilder } from "./Chunks.ts"
import { CorruptInput, decompressed } from "./Compression.ts"
import { dataError, errorMessage } from "./DataError.ts"
import type { Codec } from "./FileType.ts"
import { lines } from "./Lines.ts"
import { DROPPED, type RowDecoder } from "./RowDecoder.ts"

/**
 * JSON lines (`.jsonl`, `.json`, `.ndjson`): one `JSON.parse` per line, blank lines
 * skipped; a line that does not parse is a bad row.
 */
export async function* read(file: string, codec: Codec, decoder: RowDecoder, bad: BadRows, onRead: (n: number) => void): AsyncGenerator<Array<unknown>> {
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
        if (line.length === 0) continue
        let value: unknown
        try {
          value = JSON.parse(line)
        } catch (e) {
          if (line.trim().length > 0) bad.reject(lineNumber, `invalid JSON: ${errorMessage(e)}`, line)
          continue
        }
        if (!decoder.identity) {
          value = decoder.decode(value, lineNumber)
          if (value === DROPPED) continue
        }
        chunk.add(value, line.length)
        if (chunk.full) yield chunk.take()
      }
    }
  } catch (e) {
    if (!(e instanceof CorruptInput)) throw e
    bad.corrupt(e)
  }
  if (chunk.size > 0) yield chunk.take()
}

/** One `JSON.stringify` per item and line; `undefined` is written as `null`. */
export const encode = (items: ReadonlyArray<unknown>, file: string): string => {
  let out = ""
  for (let i = 0; i < items.length; i++) {
    let json: string | undefined
    try {
      json = JSON.stringify(items[i])
    } catch (e) {
      throw dataError(`Cannot write an item as JSON to ${file}: ${errorMessage(e)}`, { file, cause: e })
    }
    out += (json ?? "null") + "\n"
  }
  return out
}
