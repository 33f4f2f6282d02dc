import { Readable, Transform, type TransformCallback } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as zlib from "node:zlib"
import { Decompress as ZstdDecompress } from "fzstd"
import * as ExternalImport from "../ExternalImport.ts"
import * as ObjectStore from "../storage/ObjectStore.ts"
import { dataError, errorMessage } from "./DataError.ts"
import type { Codec } from "./FileType.ts"

/**
 * Byte streams of files, decompressed by codec (reading) or compressed (writing).
 *
 * gzip is Node's zlib. zstd is not in Node 20's zlib: reading uses `fzstd` (pure JS,
 * streaming, handles multi-frame files), writing uses `@bokuweb/zstd-wasm` (the reference
 * C library compiled to WASM) one frame per ~1 MiB block, which any zstd reader accepts as
 * one stream.
 */

/** Raw reads are this size: 64 KiB string chunks split and parse fastest here. */
export const READ_CHUNK = ObjectStore.READ_CHUNK

/** A file's bytes stopped decoding (a truncated or corrupt .gz/.zst, bytes that are not UTF-8): nothing after can be read. */
export class CorruptInput extends Error {
  /** The 1-based line being read when decoding stopped, and what of it was decoded (set by readers that know). */
  line: number | undefined
  partial: string | undefined

  constructor(readonly file: string, message: string) {
    super(message)
    this.name = "CorruptInput"
  }
}

const codecFailure = (file: string, codec: Codec, state: { read: number; size: number }, e: unknown): CorruptInput =>
  new CorruptInput(file, `Corrupt or truncated ${codec} data in ${file} (after ${state.read} of ${state.size} compressed bytes): ${errorMessage(e)}`)

/**
 * The decompressed bytes of `file`. Decoding failures throw `CorruptInput` after every
 * byte decoded before them was yielded; I/O errors are thrown as they are.
 */
export async function* decompressed(file: string, codec: Codec, onRead: (n: number) => void = () => {}): AsyncGenerator<Uint8Array> {
  const state = { read: 0, size: 0 }
  // The raw bytes in READ_CHUNK pieces (fresh buffers; consumers may keep them), read ahead
  // of the consumer: a local file's handle, or an object's streamed GET.
  const raw = ObjectStore.of(file).chunks(file, onRead, state)
  if (codec === "none") {
    yield* raw
    return
  }
  if (codec === "zstd") {
    const out: Array<Uint8Array> = []
    const decoder = new ZstdDecompress((chunk) => { if (chunk.length > 0) out.push(chunk) })
    /** Decodes one more input chunk; what decoded is yielded even when the rest fails. */
    async function* step(chunk: Uint8Array, final: boolean): AsyncGenerator<Uint8Array> {
      let failure: CorruptInput | undefined
      try { decoder.push(chunk, final) } catch (e) { failure = codecFailure(file, codec, state, e) }
      yield* out.splice(0)
      if (failure !== undefined) throw failure
    }
    for await (const chunk of raw) yield* step(chunk, false)
    yield* step(new Uint8Array(0), true)
    return
  }
  const gunzip = zlib.createGunzip({ chunkSize: READ_CHUNK })
  const piped = pipeline(Readable.from(raw), gunzip).catch(() => { /* surfaced through the iterator below */ })
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) yield chunk
  } catch (e) {
    if (isZlibError(e)) throw codecFailure(file, codec, state, e)
    throw e
  } finally {
    gunzip.destroy()
    await piped
  }
}

const isZlibError = (e: unknown): boolean => typeof (e as { code?: unknown })?.code === "string" && (e as { code: string }).code.startsWith("Z_")

// ---- writing -----------------------------------------------------------------------------

type ZstdWasm = typeof import("@bokuweb/zstd-wasm")
let zstdReady: Promise<void> | undefined
let zstdWasm: ZstdWasm | undefined
/**
 * The zstd WASM module loads and compiles once per process, when a run first writes zstd:
 * loaded with the engine, its start-up code (Emscripten's) cost every process that writes none.
 */
export const loadZstd = (): Promise<void> =>
  (zstdReady ??= ExternalImport.load<ZstdWasm & { default?: ZstdWasm }>("@bokuweb/zstd-wasm").then(async (namespace) => {
    // A CommonJS package: its exports, or the namespace Node made of them.
    const m = typeof namespace.init === "function" ? namespace : namespace.default!
    await m.init()
    zstdWasm = m
  }))

/** Compresses one buffer to one zstd frame (`loadZstd` first). */
export const zstdFrame = (bytes: Uint8Array, level: number): Uint8Array => zstdWasm!.compress(bytes, level)

/** gzip level 1 writes ~4x faster than the default 6 for a slightly larger file. */
export const DEFAULT_GZIP_LEVEL = 1
export const DEFAULT_ZSTD_LEVEL = 1
const ZSTD_FRAME_BYTES = 1 << 20

/** Checks a user-supplied `level` option against the codec's range. */
export const compressionLevel = (codec: Codec, level: unknown, file: string): number => {
  if (codec === "none") return 0
  const [min, max, fallback] = codec === "gzip" ? [0, 9, DEFAULT_GZIP_LEVEL] : [1, 19, DEFAULT_ZSTD_LEVEL]
  if (level === undefined || level === null) return fallback
  if (typeof level !== "number" || !Number.isInteger(level) || level < min || level > max) {
    throw dataError(`Invalid ${codec} compression level ${JSON.stringify(level)} for ${file}: use an integer from ${min} to ${max}`, { file })
  }
  return level
}

/** Batches bytes into ~1 MiB blocks and emits each as an independent zstd frame. */
class ZstdFrames extends Transform {
  private pending: Array<Buffer> = []
  private size = 0
  private frames = 0

  constructor(private readonly level: number) {
    super()
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(chunk)
    this.size += chunk.length
    try {
      if (this.size >= ZSTD_FRAME_BYTES) this.frame()
      callback()
    } catch (e) {
      callback(e as Error)
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      // An empty input still gets one (empty) frame: a zero-byte .zst is not a valid stream.
      if (this.size > 0 || this.frames === 0) this.frame()
      callback()
    } catch (e) {
      callback(e as Error)
    }
  }

  private frame(): void {
    const input = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.size)
    this.pending = []
    this.size = 0
    this.frames++
    this.push(Buffer.from(zstdFrame(input, this.level)))
  }
}

/** The compressing stream for a codec, or null for none. Call `loadZstd` first for zstd. */
export const compressor = (codec: Codec, level: number): Transform | null =>
  codec === "gzip" ? zlib.createGzip({ level, chunkSize: 1 << 20 }) : codec === "zstd" ? new ZstdFrames(level) : null
