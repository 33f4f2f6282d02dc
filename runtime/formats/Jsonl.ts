import type { BadRows } from "./BadRows.ts"
import { dataError, errorMessage } from "./DataError.ts"
import * as FlatJson from "./FlatJson.ts"
import type { Codec } from "./FileType.ts"
import { lineRows, SKIP } from "./LineRows.ts"
import type { RowDecoder } from "./RowDecoder.ts"

/**
 * JSON lines (`.jsonl`, `.json`, `.ndjson`): each line is what `JSON.parse` makes of it (read
 * by FlatJson), blank lines skipped; a line that does not parse is a bad row. With `columns`,
 * a row keeps only those fields (the others are checked, not copied).
 */
export const read = (file: string, codec: Codec, decoder: RowDecoder, bad: BadRows, onRead: (n: number) => void, columns: ReadonlyArray<string> | null = null): AsyncGenerator<Array<unknown>> => {
  const parser = new FlatJson.Parser(columns)
  return lineRows(file, codec, decoder, bad, onRead, (line, lineNumber) => {
    if (line.length === 0) return SKIP
    try {
      return parser.parse(line)
    } catch (e) {
      if (line.trim().length > 0) bad.reject(lineNumber, `invalid JSON: ${errorMessage(e)}`, line)
      return SKIP
    }
  })
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
