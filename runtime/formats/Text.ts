import type { BadRows } from "./BadRows.ts"
import type { Codec } from "./FileType.ts"
import { lineRows } from "./LineRows.ts"
import type { RowDecoder } from "./RowDecoder.ts"

/**
 * Plain text (`.txt`): one row per line, without its `\n` or `\r\n`; empty lines are rows
 * too. `loadText` gives the strings; `loadFile` gives `{ text }` objects so that a file path
 * column can be added. A line that is not valid UTF-8 is a bad row.
 */
export const read = (file: string, codec: Codec, asObjects: boolean, decoder: RowDecoder, bad: BadRows, onRead: (n: number) => void): AsyncGenerator<Array<unknown>> =>
  lineRows(file, codec, decoder, bad, onRead, asObjects ? (line) => ({ text: line }) : (line) => line)

/** One line per item: strings as they are, anything else through `String`. */
export const encode = (items: ReadonlyArray<unknown>): string => {
  let out = ""
  for (const item of items) out += (typeof item === "string" ? item : String(item)) + "\n"
  return out
}
