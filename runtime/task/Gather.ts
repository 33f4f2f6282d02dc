import { MEMORY_PER_ENCODED_BYTE } from "../shuffle/ScatterWriter.ts"
import * as BlockFile from "../storage/BlockFile.ts"
import * as Stream from "./ChunkStream.ts"

/**
 * The gather before a sync consumer of a whole shard (mapShard, a reduce fold) when the
 * shard arrives as an async stream: chunks are kept in memory while their estimated size
 * stays under a byte limit, then everything goes to a block file in the task's scratch
 * directory and is read back from there.
 *
 * Sizes are estimated cheaply: the msgpack size of a sample of items (the first ones, then
 * one in SAMPLE_EVERY), times what decoded JS values cost relative to their encoding.
 */
const SAMPLE_FIRST = 16
const SAMPLE_EVERY = 64
/** An item's array slot, on top of its in-memory cost (the shuffle's estimate per encoded byte). */
const BYTES_PER_SLOT = 16

export interface Gathered {
  readonly stream: Extract<Stream.ChunkStream, { sync: true }>
  /** Whether the gather went to disk. */
  readonly spilled: boolean
  readonly estimatedBytes: number
}

/** A running estimate of the memory taken by items, from the encoded size of a sample. */
export class ItemSize {
  private seen = 0
  private sampledBytes = 0
  private samples = 0
  /** Estimated bytes of everything measured so far. */
  bytes = 0

  add(chunk: Stream.Chunk): void {
    for (let i = 0; i < chunk.length; i++, this.seen++) {
      if (this.seen < SAMPLE_FIRST || this.seen % SAMPLE_EVERY === 0) {
        this.sampledBytes += BlockFile.encode(chunk[i]).length
        this.samples++
      }
    }
    this.bytes += chunk.length * ((this.sampledBytes / this.samples) * MEMORY_PER_ENCODED_BYTE + BYTES_PER_SLOT)
  }
}

export const gather = async (
  stream: Stream.ChunkStream,
  options: { readonly maxBytes: number; readonly spillFile: () => string; readonly onSpill?: ((bytes: number) => void) | undefined }
): Promise<Gathered> => {
  if (stream.sync) return { stream, spilled: false, estimatedBytes: 0 }
  const memory: Array<Stream.Chunk> = []
  const size = new ItemSize()
  let writer: BlockFile.BlockWriter | undefined
  try {
    await Stream.drain(stream, (chunk) => {
      if (writer !== undefined) { writer.write(chunk); return }
      memory.push(chunk)
      size.add(chunk)
      if (size.bytes > options.maxBytes) {
        writer = new BlockFile.BlockWriter(options.spillFile())
        for (const c of memory.splice(0)) writer.write(c)
      }
    })
  } catch (e) {
    writer?.abort()
    throw e
  }
  if (writer !== undefined) {
    const written = writer.close()
    options.onSpill?.(written.bytes)
    return { stream: { sync: true, chunks: () => BlockFile.read(written.path) }, spilled: true, estimatedBytes: size.bytes }
  }
  return { stream: { sync: true, chunks: () => memory[Symbol.iterator]() }, spilled: false, estimatedBytes: size.bytes }
}
