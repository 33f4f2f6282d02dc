import { Either, ParseResult, Schema } from "effect"
import type { BadRows } from "./BadRows.ts"

/** Returned by `RowDecoder.decode` for a row the bad-row policy dropped. */
export const DROPPED: unique symbol = Symbol("zephyr/formats/dropped")

/**
 * What every reader does to a parsed row before emitting it: decode it with the user's
 * Effect Schema (a failure goes to the bad-row policy) and add the source path column to
 * object rows when `includeFilePaths` is set (after decoding, so a struct schema does not
 * strip it).
 */
export class RowDecoder {
  /** True when rows pass through unchanged, so readers can skip calling `decode`. */
  readonly identity: boolean
  private readonly decodeEither: ((u: unknown) => Either.Either<unknown, ParseResult.ParseError>) | undefined

  constructor(
    private readonly badRows: BadRows,
    schema: Schema.Schema<any, any, never> | undefined,
    private readonly filePathColumn: string | undefined
  ) {
    this.decodeEither = schema === undefined ? undefined : Schema.decodeUnknownEither(schema)
    this.identity = schema === undefined && filePathColumn === undefined
  }

  /** The row to emit for `value` (read at `line`), or `DROPPED`. */
  decode(value: unknown, line: number): unknown {
    let row = value
    if (this.decodeEither !== undefined) {
      const result = this.decodeEither(value)
      if (Either.isLeft(result)) {
        this.badRows.reject(line, `row does not match the schema:\n${ParseResult.TreeFormatter.formatErrorSync(result.left)}`, value)
        return DROPPED
      }
      row = result.right
    }
    if (this.filePathColumn !== undefined && row !== null && typeof row === "object" && !Array.isArray(row)) {
      ;(row as Record<string, unknown>)[this.filePathColumn] = this.badRows.file
    }
    return row
  }
}
