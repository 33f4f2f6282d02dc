import { RpcSerialization } from "@effect/rpc"
import { Layer } from "effect"
import { Packr, Unpackr } from "msgpackr"

/**
 * The wire format between the coordinator and its workers: every message is one msgpack
 * value behind its length (4 bytes, big-endian).
 *
 * The length comes first so that a receiver refuses an oversized frame from its header,
 * before buffering any of it, and so that a frame arriving in many packets is kept as a
 * list of chunks and copied once, when it is complete. (@effect/rpc's msgpack codec finds
 * frame ends by parsing: it copies everything buffered and parses it again on every
 * packet, so one 16 MiB frame cost the coordinator seconds of CPU.)
 */

/** Bytes of the length header. */
export const HEADER_BYTES = 4

/** A frame whose header announces more than the receiver accepts. */
export class FrameTooLarge extends Error {
  constructor(readonly bytes: number, readonly limit: number) {
    super(`a frame of ${bytes} bytes, over the limit of ${limit} bytes`)
  }
}

/** A header of length zero: nothing a sender of ours writes. */
export class EmptyFrame extends Error {
  constructor() {
    super("an empty frame")
  }
}

/**
 * Cuts a byte stream into frames. Memory is bounded by `maxFrameBytes` plus one packet,
 * and every byte is copied at most once. After an error the stream is out of step for
 * good: every later push throws the same error.
 */
export class Decoder {
  private chunks: Array<Uint8Array> = []
  private buffered = 0
  /** Body length of the frame being read; -1 while its header is not complete. */
  private need = -1
  private failed: Error | undefined

  constructor(readonly maxFrameBytes: number) {}

  /** The bodies of the frames that `data` completes, in order. */
  push(data: Uint8Array): Array<Uint8Array> {
    if (this.failed) throw this.failed
    if (data.byteLength === 0) return []
    this.chunks.push(data)
    this.buffered += data.byteLength
    const frames: Array<Uint8Array> = []
    while (true) {
      if (this.need < 0) {
        if (this.buffered < HEADER_BYTES) break
        const header = this.take(HEADER_BYTES)
        const length = ((header[0]! << 24) >>> 0) + (header[1]! << 16) + (header[2]! << 8) + header[3]!
        if (length > this.maxFrameBytes) throw (this.failed = new FrameTooLarge(length, this.maxFrameBytes))
        if (length === 0) throw (this.failed = new EmptyFrame())
        this.need = length
      }
      if (this.buffered < this.need) break
      frames.push(this.take(this.need))
      this.need = -1
    }
    return frames
  }

  /** Bytes buffered towards the next frame. */
  get pending(): number {
    return this.buffered
  }

  /** The next `n` buffered bytes: a view when one chunk holds them, else one copy. */
  private take(n: number): Uint8Array {
    const first = this.chunks[0]!
    this.buffered -= n
    if (first.byteLength >= n) {
      if (first.byteLength === n) this.chunks.shift()
      else this.chunks[0] = first.subarray(n)
      return first.subarray(0, n)
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.chunks[0]!
      const used = Math.min(chunk.byteLength, n - filled)
      out.set(used === chunk.byteLength ? chunk : chunk.subarray(0, used), filled)
      filled += used
      if (used === chunk.byteLength) this.chunks.shift()
      else this.chunks[0] = chunk.subarray(used)
    }
    return out
  }
}

/** The msgpack options of @effect/rpc's own codec (records for repeated shapes). */
const msgpackOptions = { useRecords: true } as const

/** One connection's encoder and message decoder (msgpack records are per connection). */
export interface Codec {
  /** The frame of a message: header and body. */
  readonly frame: (message: unknown) => Uint8Array
  readonly unpack: (body: Uint8Array) => unknown
}

export const makeCodec = (): Codec => {
  const packr = new Packr(msgpackOptions)
  const unpackr = new Unpackr(msgpackOptions)
  return {
    frame: (message) => {
      const body = packr.pack(message)
      const out = new Uint8Array(HEADER_BYTES + body.byteLength)
      new DataView(out.buffer).setUint32(0, body.byteLength)
      out.set(body, HEADER_BYTES)
      return out
    },
    unpack: (body) => unpackr.unpack(body)
  }
}

/**
 * The frames as an @effect/rpc serialization, for clients: `maxFrameBytes` bounds what the
 * client accepts from the coordinator. (The coordinator's side is SocketProtocol, which
 * reads frames itself so it can refuse and close.)
 */
export const serialization = (maxFrameBytes: number): RpcSerialization.RpcSerialization["Type"] =>
  RpcSerialization.RpcSerialization.of({
    contentType: "application/x-zephyr-frames",
    includesFraming: true,
    unsafeMake: () => {
      const decoder = new Decoder(maxFrameBytes)
      const codec = makeCodec()
      const encoder = new TextEncoder()
      return {
        decode: (data) => decoder.push(typeof data === "string" ? encoder.encode(data) : data).map(codec.unpack),
        encode: (message) => codec.frame(message)
      }
    }
  })

export const layer = (maxFrameBytes: number): Layer.Layer<RpcSerialization.RpcSerialization> =>
  Layer.succeed(RpcSerialization.RpcSerialization, serialization(maxFrameBytes))
