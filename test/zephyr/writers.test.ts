import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Counters, Dataset, Zephyr } from "zephyr"
import { listDir, readFile, readJsonlFile, rejection, useTempDirs } from "./helpers.ts"

const tmp = useTempDirs()

const run = async <A>(ds: Dataset<A>) => (await Zephyr.run(ds, { workers: 2 })).results

/** Shards given explicitly: shard i holds `shards[i]`. */
const shards = <A>(list: ReadonlyArray<ReadonlyArray<A>>): Dataset<A> => Dataset.fromList(list.map((s) => [...s])).flatMap((xs) => xs)

const rows = [[{ id: 1, s: "a" }, { id: 2, s: "b" }], [{ id: 3, s: "c\nd" }], [], [{ id: 4, s: "é" }]]

describe("writeJsonl", () => {
  it("writes one file per shard and returns the paths in shard order", async () => {
    const dir = tmp()
    const paths = await run(shards(rows).writeJsonl(`${dir}/part-{shard}.jsonl`))
    expect(paths).toEqual([0, 1, 2, 3].map((i) => `${dir}/part-${i}.jsonl`))
    expect(paths.map(readJsonlFile)).toEqual(rows)
    // One JSON document per line; an empty shard gives an empty file.
    expect(readFile(paths[0]!)).toBe('{"id":1,"s":"a"}\n{"id":2,"s":"b"}\n')
    expect(readFile(paths[2]!)).toBe("")
    // Nothing else is left beside them (temporary files were renamed into place).
    expect(listDir(dir)).toEqual(["part-0.jsonl", "part-1.jsonl", "part-2.jsonl", "part-3.jsonl"])
  })

  it("fills {shard}, {total} and {shard:05d}", async () => {
    const dir = tmp()
    const paths = await run(shards(rows).writeJsonl(`${dir}/{total}/x-{shard:05d}-of-{total}.jsonl`))
    expect(paths).toEqual([0, 1, 2, 3].map((i) => `${dir}/4/x-0000${i}-of-4.jsonl`))
    expect(paths.map(readJsonlFile)).toEqual(rows)
  })

  it("creates parent directories", async () => {
    const dir = tmp()
    const paths = await run(Dataset.fromList([1, 2]).writeJsonl(`${dir}/a/b/c/{shard}/out.jsonl`))
    expect(paths).toEqual([`${dir}/a/b/c/0/out.jsonl`, `${dir}/a/b/c/1/out.jsonl`])
    expect(paths.map(readJsonlFile)).toEqual([[1], [2]])
  })

  it("compresses by extension: .gz is gzip, .zst is zstd, and both read back", async () => {
    const dir = tmp()
    const gz = await run(shards(rows).writeJsonl(`${dir}/gz/p-{shard}.jsonl.gz`))
    expect([...fs.readFileSync(gz[0]!).subarray(0, 2)]).toEqual([0x1f, 0x8b])
    expect(gz.map(readJsonlFile)).toEqual(rows)
    const zst = await run(shards(rows).writeJsonl(`${dir}/zst/p-{shard}.jsonl.zst`))
    expect([...fs.readFileSync(zst[0]!).subarray(0, 4)]).toEqual([0x28, 0xb5, 0x2f, 0xfd])
    expect(await run(Dataset.readJsonl(`${dir}/zst/*.zst`))).toEqual(rows.flat())
    expect(await run(Dataset.readJsonl(`${dir}/gz/*.gz`))).toEqual(rows.flat())
  })

  it("writes a single shard without {shard}", async () => {
    const dir = tmp()
    const paths = await run(Dataset.fromList([{ a: 1 }]).writeJsonl(`${dir}/single.jsonl`))
    expect(paths).toEqual([`${dir}/single.jsonl`])
    expect(readJsonlFile(paths[0]!)).toEqual([{ a: 1 }])
  })

  it("rejects the run (not the build) when several shards would share one file", async () => {
    const dir = tmp()
    const ds = Dataset.fromList([1, 2, 3]).writeJsonl(`${dir}/all.jsonl`) // builds fine
    const err = await rejection(run(ds))
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain("Output pattern must")
    expect(fs.existsSync(`${dir}/all.jsonl`)).toBe(false)
  })

  it("writes nothing for an empty input (no shards)", async () => {
    const dir = tmp()
    expect(await run(Dataset.fromList([]).writeJsonl(`${dir}/p-{shard}.jsonl`))).toEqual([])
  })

  it("can be followed by more ops: the result is the dataset of paths", async () => {
    const dir = tmp()
    const ds = shards(rows).writeJsonl(`${dir}/p-{shard}.jsonl`).map((p) => path.basename(p))
    expect(await run(ds)).toEqual(["p-0.jsonl", "p-1.jsonl", "p-2.jsonl", "p-3.jsonl"])
  })
})

describe("writeText", () => {
  it("writes one item per line, non-strings through String", async () => {
    const dir = tmp()
    const paths = await run(shards([["a", "b"], [1, true], []] as Array<Array<unknown>>).writeText(`${dir}/t-{shard:03d}.txt`))
    expect(paths).toEqual([`${dir}/t-000.txt`, `${dir}/t-001.txt`, `${dir}/t-002.txt`])
    expect(paths.map(readFile)).toEqual(["a\nb\n", "1\ntrue\n", ""])
  })

  it("gzips .txt.gz and reads it back with readText", async () => {
    const dir = tmp()
    const paths = await run(shards([["x", "y"], ["z"]]).writeText(`${dir}/t-{shard}.txt.gz`))
    expect(paths.map(readFile)).toEqual(["x\ny\n", "z\n"])
    expect(await run(Dataset.readText(`${dir}/*.txt.gz`))).toEqual(["x", "y", "z"])
  })

  it("rejects several shards without {shard", async () => {
    const dir = tmp()
    const err = await rejection(run(Dataset.fromList(["a", "b"]).writeText(`${dir}/out.txt`)))
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain("Output pattern must")
  })
})

describe("writeParquet", () => {
  it("round-trips through readParquet", async () => {
    const dir = tmp()
    const data = [[{ id: 1, name: "a", score: 1.5 }], [{ id: 2, name: "b", score: 2.5 }, { id: 3, name: "c", score: null }]]
    const paths = await run(shards(data).writeParquet(`${dir}/p-{shard}.parquet`))
    expect(paths).toEqual([`${dir}/p-0.parquet`, `${dir}/p-1.parquet`])
    expect(await run(Dataset.readParquet(`${dir}/*.parquet`))).toEqual(data.flat())
  })
})

describe("skipExisting", () => {
  it("skips a shard whose file exists, upstream work included", async () => {
    const dir = tmp()
    fs.writeFileSync(`${dir}/p-1.jsonl`, '{"kept":true}\n')
    const touched: Array<number> = []
    const ds = Dataset.fromList([10, 20, 30])
      .map((n) => {
        touched.push(n)
        Counters.increment("mapped")
        return { n }
      })
      .writeJsonl(`${dir}/p-{shard}.jsonl`, { skipExisting: true })
    const { results, counters } = await Zephyr.run(ds, { workers: 2 })
    expect(results).toEqual([0, 1, 2].map((i) => `${dir}/p-${i}.jsonl`))
    expect(readJsonlFile(`${dir}/p-1.jsonl`)).toEqual([{ kept: true }])
    expect(readJsonlFile(`${dir}/p-0.jsonl`)).toEqual([{ n: 10 }])
    expect(readJsonlFile(`${dir}/p-2.jsonl`)).toEqual([{ n: 30 }])
    expect(touched.sort((a, b) => a - b)).toEqual([10, 30])
    expect(counters.mapped).toBe(2)
  })

  it("skips the reducer of an existing shard after a groupBy", async () => {
    const dir = tmp()
    const build = () => Dataset.fromList(["a", "b", "c", "d", "e", "f"])
      .groupBy((s) => s, (k) => {
        Counters.increment("reduced")
        return { k }
      }, { numOutputShards: 3 })
      .writeJsonl(`${dir}/g-{shard}.jsonl`, { skipExisting: true })
    const first = await Zephyr.run(build(), { workers: 2 })
    expect(first.counters.reduced).toBe(6)
    const kept = readJsonlFile(first.results[0]!)
    fs.rmSync(first.results[2]!)
    const second = await Zephyr.run(build(), { workers: 2 })
    expect(second.results).toEqual(first.results)
    // Only the keys of the removed shard were reduced again.
    expect(second.counters.reduced).toBe(readJsonlFile(first.results[2]!).length)
    expect(readJsonlFile(second.results[0]!)).toEqual(kept)
  })

  it("writes every shard again without skipExisting", async () => {
    const dir = tmp()
    fs.writeFileSync(`${dir}/p-0.jsonl`, '{"old":true}\n')
    await run(Dataset.fromList([1]).writeJsonl(`${dir}/p-{shard}.jsonl`))
    expect(readJsonlFile(`${dir}/p-0.jsonl`)).toEqual([1])
  })
})
