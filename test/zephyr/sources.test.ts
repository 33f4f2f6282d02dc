import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { jsonl, rejection, useTempDirs, writeFile } from "./helpers.ts"

const tmp = useTempDirs()

/** Every shard as `{ shardIdx, totalShards, items }`, in shard order. */
const shardsOf = async <A>(ds: Dataset<A>) =>
  (await Zephyr.run(ds.mapShard((items, info) => [{ ...info, items: [...items] }]), { workers: 2 })).results

describe("fromList", () => {
  it("gives the items back in order", async () => {
    const { results } = await Zephyr.run(Dataset.fromList([3, 1, 2, "x", { a: 1 }, [1, 2]]))
    expect(results).toEqual([3, 1, 2, "x", { a: 1 }, [1, 2]])
  })

  it("makes one shard per item", async () => {
    expect(await shardsOf(Dataset.fromList(["a", "b", "c"]))).toEqual([
      { shardIdx: 0, totalShards: 3, items: ["a"] },
      { shardIdx: 1, totalShards: 3, items: ["b"] },
      { shardIdx: 2, totalShards: 3, items: ["c"] }
    ])
  })

  it("gives an empty result for []", async () => {
    expect((await Zephyr.run(Dataset.fromList([]))).results).toEqual([])
    expect((await Zephyr.run(Dataset.fromList<number>([]).map((n) => n + 1).filter((n) => n > 0))).results).toEqual([])
  })

  it("keeps the items it was built with, even if the array changes later", async () => {
    const items = [1, 2]
    const ds = Dataset.fromList(items)
    items.push(3)
    expect((await Zephyr.run(ds)).results).toEqual([1, 2])
  })
})

describe("fromIterable", () => {
  it("materialises any iterable, one shard per item", async () => {
    function* gen() { yield 10; yield 20; yield 30 }
    expect((await Zephyr.run(Dataset.fromIterable(gen()))).results).toEqual([10, 20, 30])
    expect((await Zephyr.run(Dataset.fromIterable(new Set(["x", "y"])))).results).toEqual(["x", "y"])
    expect(await shardsOf(Dataset.fromIterable(new Map([["k", 1], ["l", 2]]).keys()))).toEqual([
      { shardIdx: 0, totalShards: 2, items: ["k"] },
      { shardIdx: 1, totalShards: 2, items: ["l"] }
    ])
  })

  it("gives an empty result for an empty iterable", async () => {
    expect((await Zephyr.run(Dataset.fromIterable(new Set<number>())))).toMatchObject({ results: [] })
  })
})

describe("fromFiles", () => {
  it("gives one path per matching file, sorted by path, one shard per file", async () => {
    const dir = tmp()
    // Created out of order.
    for (const name of ["c.txt", "a.txt", "b.txt", "skip.md"]) writeFile(path.join(dir, name), "x\n")
    const ds = Dataset.fromFiles(`${dir}/*.txt`)
    expect((await Zephyr.run(ds)).results).toEqual(["a.txt", "b.txt", "c.txt"].map((n) => path.join(dir, n)))
    expect((await shardsOf(ds)).map((s) => [s.shardIdx, s.totalShards, s.items.length])).toEqual([[0, 3, 1], [1, 3, 1], [2, 3, 1]])
  })

  it("supports ** (any depth, including none) and {a,b}", async () => {
    const dir = tmp()
    const files = ["top.jsonl", "x/one.jsonl", "x/y/two.jsonl", "x/y/z/three.jsonl", "x/other.txt", "a/1.csv", "b/2.csv", "c/3.csv"]
    for (const f of files) writeFile(path.join(dir, f), "{}\n")
    const deep = await Zephyr.run(Dataset.fromFiles(`${dir}/**/*.jsonl`))
    expect(deep.results).toEqual(["top.jsonl", "x/one.jsonl", "x/y/two.jsonl", "x/y/z/three.jsonl"].map((f) => path.join(dir, f)).sort())
    const braces = await Zephyr.run(Dataset.fromFiles(`${dir}/{a,c}/*.csv`))
    expect(braces.results).toEqual([path.join(dir, "a/1.csv"), path.join(dir, "c/3.csv")])
    const both = await Zephyr.run(Dataset.fromFiles(`${dir}/**/*.{csv,txt}`))
    expect(both.results).toEqual(["a/1.csv", "b/2.csv", "c/3.csv", "x/other.txt"].map((f) => path.join(dir, f)))
    const middle = await Zephyr.run(Dataset.fromFiles(`${dir}/x/**/three.jsonl`))
    expect(middle.results).toEqual([path.join(dir, "x/y/z/three.jsonl")])
  })

  it("a trailing ** matches every file below, at any depth", async () => {
    const dir = tmp()
    const files = ["top.jsonl", "x/one.jsonl", "x/y/two.txt"]
    for (const f of files) writeFile(path.join(dir, f), "{}\n")
    expect((await Zephyr.run(Dataset.fromFiles(`${dir}/**`))).results).toEqual(files.map((f) => path.join(dir, f)))
    expect((await Zephyr.run(Dataset.fromFiles(`${dir}/x/**`))).results).toEqual([path.join(dir, "x/one.jsonl"), path.join(dir, "x/y/two.txt")])
  })

  it("rejects the run (not the build) when nothing matches, naming the pattern", async () => {
    const dir = tmp()
    const pattern = `${dir}/nothing-here/*.jsonl`
    const ds = Dataset.fromFiles(pattern) // building does not look at the disk
    const err = await rejection(Zephyr.run(ds))
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain(pattern)
  })

  it("rejects an invalid pattern with a ZephyrPlanError naming the pattern and the line of the DSL call", async () => {
    const dir = tmp()
    writeFile(path.join(dir, "a.jsonl"), "{}\n")
    const pattern = `${dir}/[z-a].jsonl`
    const ds = Dataset.fromFiles(pattern) // the invalid-range call
    const line = fs.readFileSync(new URL(import.meta.url), "utf8").split("\n").findIndex((l) => l.includes("// the invalid-range call")) + 1
    const err = await rejection(Zephyr.run(ds))
    expect(err).toMatchObject({ _tag: "ZephyrPlanError", reason: "invalid-glob", line })
    expect(err.message).toContain(`fromFiles(${JSON.stringify(pattern)})`)
    expect(err.message).toContain(`sources.test.ts:${line}`)
    expect(err.message).toContain("Range out of order in character class")
  })

  it("gives an empty result with emptyGlobOk", async () => {
    const dir = tmp()
    expect((await Zephyr.run(Dataset.fromFiles(`${dir}/*.jsonl`, { emptyGlobOk: true }))).results).toEqual([])
    expect((await Zephyr.run(Dataset.readJsonl(`${dir}/*.jsonl`, { emptyGlobOk: true }).map((r) => r.x))).results).toEqual([])
  })

  it("lists the files when the run starts, not when the dataset is built", async () => {
    const dir = tmp()
    const ds = Dataset.fromFiles(`${dir}/*.txt`)
    writeFile(path.join(dir, "late.txt"), "x\n")
    expect((await Zephyr.run(ds)).results).toEqual([path.join(dir, "late.txt")])
  })
})

describe("readJsonl / readText / loadFile", () => {
  it("readJsonl reads every row of every file, files in path order, rows in file order", async () => {
    const dir = tmp()
    writeFile(path.join(dir, "b.jsonl"), jsonl([{ id: 3 }, { id: 4 }]))
    writeFile(path.join(dir, "a.jsonl"), jsonl([{ id: 1 }, { id: 2, nested: { x: [1, null] } }]))
    writeFile(path.join(dir, "c.jsonl.gz"), jsonl([{ id: 5 }]))
    const { results } = await Zephyr.run(Dataset.readJsonl(`${dir}/*.jsonl{,.gz}`))
    expect(results).toEqual([{ id: 1 }, { id: 2, nested: { x: [1, null] } }, { id: 3 }, { id: 4 }, { id: 5 }])
  })

  it("readJsonl decodes rows with a Schema", async () => {
    const dir = tmp()
    writeFile(path.join(dir, "a.jsonl"), jsonl([{ id: "1", when: "2024-01-02T00:00:00.000Z" }, { id: "22", when: "2025-03-04T00:00:00.000Z" }]))
    const Row = Schema.Struct({ id: Schema.NumberFromString, when: Schema.Date })
    const ds = Dataset.readJsonl(`${dir}/*.jsonl`, { schema: Row }).map((r) => ({ id: r.id + 1, year: r.when.getUTCFullYear() }))
    expect((await Zephyr.run(ds)).results).toEqual([{ id: 2, year: 2024 }, { id: 23, year: 2025 }])
  })

  it("readText gives one string per line, empty lines kept", async () => {
    const dir = tmp()
    writeFile(path.join(dir, "1.txt"), "hello\r\nworld\n\nlast")
    writeFile(path.join(dir, "2.txt.gz"), "zipped\n")
    expect((await Zephyr.run(Dataset.readText(`${dir}/*`))).results).toEqual(["hello", "world", "", "last", "zipped"])
  })

  it("loadFile picks the reader by extension, .json being JSON lines", async () => {
    const dir = tmp()
    writeFile(path.join(dir, "a.json"), jsonl([{ k: "json1" }, { k: "json2" }]))
    writeFile(path.join(dir, "b.jsonl"), jsonl([{ k: "jsonl" }]))
    writeFile(path.join(dir, "c.jsonl.gz"), jsonl([{ k: "gz" }]))
    const { results } = await Zephyr.run(Dataset.fromFiles(`${dir}/*`).loadFile().map((r) => r.k))
    expect(results).toEqual(["json1", "json2", "jsonl", "gz"])
  })

  it("loadJsonl and loadText after fromFiles equal the read* shorthands", async () => {
    const dir = tmp()
    writeFile(path.join(dir, "a.jsonl"), jsonl([{ n: 1 }, { n: 2 }]))
    writeFile(path.join(dir, "a.txt"), "one\ntwo\n")
    expect((await Zephyr.run(Dataset.fromFiles(`${dir}/*.jsonl`).loadJsonl())).results).toEqual([{ n: 1 }, { n: 2 }])
    expect((await Zephyr.run(Dataset.fromFiles(`${dir}/*.txt`).loadText())).results).toEqual(["one", "two"])
  })

  it("an unknown extension rejects the run with an error containing Unsupported", async () => {
    const dir = tmp()
    writeFile(path.join(dir, "data.xyz"), "whatever\n")
    const ds = Dataset.fromFiles(`${dir}/*.xyz`).loadFile() // building is fine: it depends on the files
    const err = await rejection(Zephyr.run(ds))
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain("Unsupported")
  })
})
