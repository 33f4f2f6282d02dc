import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import type { CompressionCodec } from "hyparquet"
import { ByteWriter, ParquetWriter } from "hyparquet-writer"
import { BlockWriter, read as readBlocks } from "../storage/BlockFile.ts"
import * as ChunkDir from "../storage/ChunkDir.ts"
import type { PendingUpload } from "../storage/ObjectStore.ts"
import * as StoragePath from "../storage/StoragePath.ts"
import { AtomicFile } from "./AtomicFile.ts"
import { compressionLevel, loadZstd, zstdFrame } from "./Compression.ts"
import { dataError } from "./DataError.ts"
import { approxBytes, checkRecord, encoder, explicitShape, Inference, schemaElements, type Shape, type ValueEncoder } from "./ParquetSchema.ts"

/**
 * Parquet writing on `hyparquet-writer`: row groups of `rowGroupSize` rows (default
 * 20,000) or about 32 MiB of data, whichever comes first, with column statistics for
 * readers' pruning; ZSTD pages by default (`compression`: "zstd", "snappy", "gzip", "none").
 *
 * With an explicit `schema`, rows are checked and written as they come. Without one, the
 * schema is inferred from all the rows, widening as they arrive (null → a concrete type,
 * int → float, new columns and struct fields); since a Parquet schema is fixed before the
 * first row group, row groups are spooled to a hidden msgpack file beside the output until
 * the input ends (a file of one row group never touches the spool). An empty input writes
 * a valid file: with the explicit schema's columns, or with none.
 */
const DEFAULT_ROW_GROUP_ROWS = 20_000
const ROW_GROUP_BYTES = 32 << 20

interface ParquetOptions {
  readonly explicit: ReadonlyMap<string, Shape> | undefined
  readonly rowGroupRows: number
  readonly codec: CompressionCodec
  readonly level: number
}

const codecs: Record<string, CompressionCodec> = {
  zstd: "ZSTD", snappy: "SNAPPY", gzip: "GZIP", none: "UNCOMPRESSED", uncompressed: "UNCOMPRESSED"
}

const parseOptions = (file: string, options: Readonly<Record<string, unknown>>): ParquetOptions => {
  const rowGroupRows = options.rowGroupSize ?? DEFAULT_ROW_GROUP_ROWS
  if (typeof rowGroupRows !== "number" || !Number.isInteger(rowGroupRows) || rowGroupRows < 1) {
    throw dataError(`writeParquet rowGroupSize for ${file} must be a positive integer, got ${JSON.stringify(rowGroupRows)}`, { file })
  }
  const name = options.compression ?? "zstd"
  const codec = typeof name === "string" ? codecs[name.toLowerCase()] : undefined
  if (codec === undefined) {
    throw dataError(`writeParquet compression for ${file} must be one of ${Object.keys(codecs).join(", ")}, got ${JSON.stringify(name)}`, { file })
  }
  const level = codec === "ZSTD" ? compressionLevel("zstd", options.level, file) : codec === "GZIP" ? compressionLevel("gzip", options.level, file) : 0
  const explicit = options.schema === undefined || options.schema === null ? undefined : explicitShape(options.schema, file)
  return { explicit, rowGroupRows, codec, level }
}

/** hyparquet-writer's buffer, handed to the output file after every row group. */
class FileByteWriter extends ByteWriter {
  constructor(private readonly out: AtomicFile) {
    super(1 << 20)
  }

  flush(): Promise<void> {
    const bytes = new Uint8Array(this.buffer.slice(0, this.index))
    this.index = 0
    return this.out.write(bytes)
  }

  override finish(): Promise<void> {
    return this.flush()
  }
}

export const write = async (
  file: string,
  chunks: AsyncIterable<ReadonlyArray<unknown>>,
  options: Readonly<Record<string, unknown>>,
  onRows: (n: number) => void,
  staged?: string
): Promise<{ readonly rows: number; readonly bytes: number; readonly upload?: PendingUpload | undefined }> => {
  const opts = parseOptions(file, options)
  if (opts.codec === "ZSTD") await loadZstd()
  const out = await AtomicFile.open(file, "none", 0, staged)
  // Beside the output, or in the user's private temp space when the output goes to object storage.
  const spoolDir = StoragePath.isS3(file) ? ChunkDir.privateUserRoot() : path.dirname(file)
  const spoolPath = path.join(spoolDir, `.${StoragePath.basename(file)}.spool-${randomUUID().slice(0, 8)}`)
  let spool: BlockWriter | undefined
  try {
    const sink = new FileByteWriter(out)
    const compressors = {
      ZSTD: (b: Uint8Array) => zstdFrame(b, opts.level),
      GZIP: (b: Uint8Array) => new Uint8Array(zlib.gzipSync(b, { level: opts.level }))
    }
    const inference = opts.explicit === undefined ? new Inference(file) : undefined
    let writer: ParquetWriter | undefined
    let encoders: ReadonlyArray<readonly [string, ValueEncoder]> = []
    const start = (columns: ReadonlyMap<string, Shape>) => {
      writer = new ParquetWriter({ writer: sink, schema: schemaElements(columns), codec: opts.codec, compressors })
      encoders = [...columns].map(([name, shape]) => [name, encoder(shape, name, file)] as const)
      return writer
    }
    if (opts.explicit !== undefined) start(opts.explicit)

    const writeGroup = async (rows: ReadonlyArray<unknown>, firstRow: number): Promise<void> => {
      const columnData = encoders.map(([name, encode]) => ({
        name,
        data: rows.map((r, i) => encode((r as Record<string, unknown>)[name], firstRow + i))
      }))
      await writer!.write({ columnData, rowGroupSize: rows.length })
    }

    let group: Array<unknown> = []
    let groupBytes = 0
    let rows = 0
    let groupFirstRow = 1
    for await (const items of chunks) {
      for (const item of items) {
        rows++
        if (inference !== undefined) groupBytes += inference.observe(item, rows)
        else {
          checkRecord(item, rows, file)
          groupBytes += approxBytes(item)
        }
        group.push(item)
        if (group.length >= opts.rowGroupRows || groupBytes >= ROW_GROUP_BYTES) {
          if (writer !== undefined) await writeGroup(group, groupFirstRow)
          else (spool ??= new BlockWriter(spoolPath)).write(group)
          groupFirstRow += group.length
          group = []
          groupBytes = 0
        }
      }
      onRows(items.length)
    }

    if (writer === undefined) {
      writer = start(inference!.shape())
      if (spool !== undefined) {
        spool.close()
        let first = 1
        for (const block of readBlocks(spoolPath)) {
          await writeGroup(block, first)
          first += block.length
        }
      }
    }
    if (group.length > 0) await writeGroup(group, groupFirstRow)
    await writer.finish()
    const bytes = await out.commit()
    return { rows, bytes, upload: out.pendingUpload }
  } catch (e) {
    await out.abort()
    throw e
  } finally {
    spool?.abort()
    fs.rmSync(spoolPath, { force: true })
  }
}
