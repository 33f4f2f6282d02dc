import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { compressionLevel, CorruptInput, decompressed, loadZstd, zstdFrame } from "../../../runtime/formats/Compression.ts"
import { tempDirs } from "./Fixtures.ts"

const newDir = tempDirs()

const slurp = async (file: string, codec: "none" | "gzip" | "zstd") => {
  const parts: Array<Uint8Array> = []
  let read = 0
  for await (const p of decompressed(file, codec, (n) => { read += n })) parts.push(p)
  return { text: Buffer.concat(parts).toString(), read }
}

describe("Compression", () => {
  const text = Array.from({ length: 20000 }, (_, i) => `line ${i} ${"x".repeat(i % 50)}`).join("\n")

  it("reads plain, gzip (several members) and zstd (several frames) files, counting raw bytes", async () => {
    const dir = newDir()
    const plain = path.join(dir, "a.txt")
    fs.writeFileSync(plain, text)
    expect(await slurp(plain, "none")).toEqual({ text, read: Buffer.byteLength(text) })

    const gz = path.join(dir, "a.txt.gz")
    const half = text.length >> 1
    fs.writeFileSync(gz, Buffer.concat([zlib.gzipSync(text.slice(0, half)), zlib.gzipSync(text.slice(half))]))
    const g = await slurp(gz, "gzip")
    expect(g.text).toBe(text)
    expect(g.read).toBe(fs.statSync(gz).size)

    await loadZstd()
    const zst = path.join(dir, "a.txt.zst")
    fs.writeFileSync(zst, Buffer.concat([zstdFrame(Buffer.from(text.slice(0, half)), 3), zstdFrame(Buffer.from(text.slice(half)), 3)]))
    expect((await slurp(zst, "zstd")).text).toBe(text)
  })

  it("throws CorruptInput for truncated gzip and zstd after yielding what decoded", async () => {
    const dir = newDir()
    const gz = path.join(dir, "t.gz")
    const full = zlib.gzipSync(text)
    fs.writeFileSync(gz, full.subarray(0, full.length - 100))
    let decodedBytes = 0
    let error: unknown
    try { for await (const p of decompressed(gz, "gzip")) decodedBytes += p.length } catch (e) { error = e }
    expect(error).toBeInstanceOf(CorruptInput)
    expect((error as Error).message).toMatch(/Corrupt or truncated gzip data in .*t\.gz \(after \d+ of \d+ compressed bytes\)/)
    expect(decodedBytes).toBeGreaterThan(0)

    await loadZstd()
    const zst = path.join(dir, "t.zst")
    const frames = Buffer.concat([zstdFrame(Buffer.from(text.slice(0, 1000)), 1), zstdFrame(Buffer.from(text.slice(1000)), 1)])
    fs.writeFileSync(zst, frames.subarray(0, frames.length - 50))
    decodedBytes = 0
    error = undefined
    try { for await (const p of decompressed(zst, "zstd")) decodedBytes += p.length } catch (e) { error = e }
    expect(error).toBeInstanceOf(CorruptInput)
    expect(decodedBytes).toBeGreaterThanOrEqual(1000)
  })

  it("validates compression levels", () => {
    expect(compressionLevel("gzip", undefined, "f")).toBe(1)
    expect(compressionLevel("gzip", 9, "f")).toBe(9)
    expect(compressionLevel("zstd", undefined, "f")).toBe(1)
    expect(() => compressionLevel("gzip", 12, "f")).toThrow(ZephyrWorkerError)
    expect(() => compressionLevel("zstd", "fast", "f")).toThrow(/Invalid zstd compression level/)
  })
})
