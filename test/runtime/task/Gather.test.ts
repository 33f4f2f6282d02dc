import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Stream from "../../../runtime/task/ChunkStream.ts"
import * as Gather from "../../../runtime/task/Gather.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tmp = useTempDirs()

const asyncChunks = (chunks: ReadonlyArray<ReadonlyArray<unknown>>): Stream.ChunkStream =>
  Stream.fromAsync(async function* () { for (const c of chunks) yield c })

const all = (s: Stream.ChunkStream & { sync: true }): Array<unknown> => [...Stream.items(s.chunks())]

describe("gather before a sync consumer", () => {
  it("spills by estimated bytes: a few big items go to disk, many small ones within the limit stay in memory", async () => {
    const dir = tmp()
    const file = () => path.join(dir, "scratch", "gathered.blk")
    // 40 items of 64 KiB each: far fewer than any item-count limit, but ~2.5 MiB encoded.
    const big = Array.from({ length: 4 }, (_, c) => Array.from({ length: 10 }, (_, i) => ({ i: c * 10 + i, s: "x".repeat(65536) })))
    const spilled = await Gather.gather(asyncChunks(big), { maxBytes: 1 << 20, spillFile: file })
    expect(spilled.spilled).toBe(true)
    expect(fs.existsSync(file())).toBe(true)
    expect(all(spilled.stream)).toEqual(big.flat())

    // 100,000 small items of a few bytes each, under a 16 MiB limit: no file.
    const small = Array.from({ length: 100 }, (_, c) => Array.from({ length: 1000 }, (_, i) => c * 1000 + i))
    const dir2 = tmp()
    const kept = await Gather.gather(asyncChunks(small), { maxBytes: 16 << 20, spillFile: () => path.join(dir2, "never.blk") })
    expect(kept.spilled).toBe(false)
    expect(fs.readdirSync(dir2)).toEqual([])
    expect(kept.estimatedBytes).toBeGreaterThan(0)
    expect(all(kept.stream)).toEqual(small.flat())
  })

  it("estimates bytes from the encoded size of a sample", () => {
    const size = new Gather.ItemSize()
    size.add(Array.from({ length: 1000 }, () => "y".repeat(1000)))
    // ~1000 encoded bytes per item, times the in-memory factor.
    expect(size.bytes).toBeGreaterThan(1000 * 1000)
    expect(size.bytes).toBeLessThan(1000 * 1000 * 4)
  })
})
