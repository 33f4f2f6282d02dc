import * as path from "node:path"
import type * as Op from "../../plan/Op.ts"
import { dataError } from "./DataError.ts"

/**
 * What a file name says about its contents: the codec its bytes are compressed with and,
 * for `loadFile`, the format of the rows inside.
 */
export type Codec = "none" | "gzip" | "zstd"
export type Format = Exclude<Op.LoadFormat, "auto">

const codecs: Record<string, Codec> = { ".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd" }
const formats: Record<string, Format> = {
  ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".txt": "text", ".parquet": "parquet"
}

/** The compression a path's last extension names (`.gz`, `.gzip`, `.zst`, `.zstd`), else none. */
export const codecOf = (file: string): Codec => codecs[path.extname(file).toLowerCase()] ?? "none"

/** The file name without its compression extension. */
const withoutCodec = (file: string): string => (codecOf(file) === "none" ? file : file.slice(0, -path.extname(file).length))

/**
 * The format to read `file` with: the requested one, or for "auto" the one its extension
 * names. Unknown extensions and compressed Parquet fail with an `Unsupported` error.
 */
export const formatOf = (file: string, requested: Op.LoadFormat): Format => {
  if (requested !== "auto") return requested
  const inner = path.extname(withoutCodec(file)).toLowerCase()
  const format = formats[inner]
  if (format !== undefined && !(format === "parquet" && codecOf(file) !== "none")) return format
  const ext = inner + (codecOf(file) === "none" ? "" : path.extname(file))
  throw dataError(
    `Unsupported file extension ${JSON.stringify(ext)} for ${file}: loadFile reads .jsonl, .json, .ndjson, .parquet, .csv, .txt (optionally .gz or .zst)`,
    { file }
  )
}
