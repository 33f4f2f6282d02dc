import { describe, expect, it, vi } from "vitest"
import fc from "fast-check"
import * as Frames from "../../rpc/Frames.ts"

const frame = (messages: ReadonlyArray<unknown>): Uint8Array => {
  const codec = Frames.makeCodec()
  return Buffer.concat(messages.map((m) => codec.frame(m)))
}

/** Cuts `bytes` at the given offsets. */
const cut = (bytes: Uint8Array, offsets: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(offsets.map((o) => o % (bytes.byteLength + 1)))].sort((a, b) => a - b)
  const pieces: Array<Uint8Array> = []
  let from = 0
  for (const p of [...points, bytes.byteLength]) {
    pieces.push(bytes.subarray(from, p))
    from = p
  }
  return pieces
}

const message = fc.record({ _tag: fc.constantFrom("Request", "Exit"), id: fc.string(), payload: fc.jsonValue() })

describe("Frames", () => {
  it("decodes the same messages however the stream is cut into packets", () => {
    fc.assert(fc.property(fc.array(message, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 40 }), (messages, offsets) => {
      const decoder = new Frames.Decoder(1 << 20)
      const codec = Frames.makeCodec()
      const decoded = cut(frame(messages), offsets).flatMap((piece) => decoder.push(piece)).map(codec.unpack)
      expect(decoded).toEqual(messages)
      expect(decoder.pending).toBe(0)
    }), { seed: 9, numRuns: 300 })
  })

  it("refuses a frame over the limit from its header alone, and stays refused", () => {
    const decoder = new Frames.Decoder(1 << 20)
    const header = Buffer.alloc(4)
    header.writeUInt32BE(16 << 20)
    expect(() => decoder.push(header)).toThrow(Frames.FrameTooLarge)
    expect(() => decoder.push(frame([{ ok: true }]))).toThrow(Frames.FrameTooLarge)
  })

  it("refuses an empty frame", () => {
    expect(() => new Frames.Decoder(1 << 20).push(Uint8Array.of(0, 0, 0, 0))).toThrow(Frames.EmptyFrame)
  })

  it("keeps a frame that arrives in many packets until it is whole, and copies each byte at most once", () => {
    const size = 4 << 20
    const big = frame([{ bytes: new Uint8Array(size).fill(7) }])
    const parser = Frames.serialization(8 << 20).unsafeMake()
    const pieces = cut(big, Array.from({ length: 1024 }, (_, i) => i * 4099 + 1))
    let copied = 0
    const set = Uint8Array.prototype.set
    const spy = vi.spyOn(Uint8Array.prototype, "set").mockImplementation(function (this: Uint8Array, source: ArrayLike<number>, offset?: number) {
      copied += source.length
      return set.call(this, source, offset)
    })
    let decoded: ReadonlyArray<unknown> = []
    try {
      for (const piece of pieces.slice(0, -1)) expect(parser.decode(piece)).toEqual([])
      decoded = parser.decode(pieces.at(-1)!)
    } finally {
      spy.mockRestore()
    }
    expect((decoded[0] as { bytes: Uint8Array }).bytes.byteLength).toBe(size)
    // A codec that joins what it has buffered on every packet copies ~1024 x 2 MiB here.
    expect(copied).toBeLessThanOrEqual(big.byteLength)
  })
})
