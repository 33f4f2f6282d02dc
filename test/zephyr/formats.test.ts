import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { jsonl, readJsonlFile, useTempDirs, writeFile } from "./helpers.ts"

// Formats and typed rows through whole runs (the readers and writers themselves are
// tested under test/runtime/formats/).
const tempDir = useTempDirs()
const Doc = Schema.Struct({ id: Schema.Number, text: Schema.String })

const docsWithOneBadRow = (dir: string) => {
  writeFile(`${dir}/in/a.jsonl`, jsonl([{ id: 1, text: "one" }, { id: "two", text: "bad id" }, { id: 3, text: "three" }]))
  writeFile(`${dir}/in/b.jsonl`, `${JSON.stringify({ id: 4, text: "four" })}\n{not json\n`)
}

describe("typed rows and the bad-row policy in a run", () => {
  it("fail (default): the run is rejected naming the file, the line and the schema issue", async () => {
    const dir = tempDir()
    docsWithOneBadRow(dir)
    // b.jsonl fails too: one worker reads a.jsonl first, so the run names it, not a race.
    const err = await Zephyr.run(Dataset.readJsonl(`${dir}/in/*.jsonl`, { schema: Doc }), { workers: 1 }).catch((e) => e)
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain("in/a.jsonl:2")
    expect(err.message).toMatch(/id/)
  })

  it("skip: bad rows (schema and invalid JSON) are dropped and counted", async () => {
    const dir = tempDir()
    docsWithOneBadRow(dir)
    const r = await Zephyr.run(Dataset.readJsonl(`${dir}/in/*.jsonl`, { schema: Doc, onBadRow: "skip" }).map((d) => d.id))
    expect(r.results).toEqual([1, 3, 4])
    expect(r.counters["zephyr/rows_dropped"]).toBe(2)
  })

  it("quarantine: bad rows go with their error to a side file under the output folder", async () => {
    const dir = tempDir()
    docsWithOneBadRow(dir)
    const r = await Zephyr.run(Dataset.readJsonl(`${dir}/in/*.jsonl`, { schema: Doc, onBadRow: "quarantine" }).writeJsonl(`${dir}/out/docs-{shard}.jsonl`))
    expect(r.results).toHaveLength(2)
    const side = path.join(dir, "out", "_quarantine")
    const rows = fs.readdirSync(side).flatMap((f) => readJsonlFile(path.join(side, f))) as Array<{ file: string; line: number; error: string }>
    expect(rows.map((x) => [path.basename(x.file), x.line]).sort()).toEqual([["a.jsonl", 2], ["b.jsonl", 2]])
    expect(rows.every((x) => x.error.length > 0)).toBe(true)
    expect(r.counters["zephyr/rows_dropped"]).toBe(2)
  })
})

describe("formats in runs", () => {
  it("CSV read with a schema and written back", async () => {
    const dir = tempDir()
    writeFile(`${dir}/in/people.csv`, "name,age\nann,31\nbob,42\n")
    const Person = Schema.Struct({ name: Schema.String, age: Schema.NumberFromString })
    const r = await Zephyr.run(Dataset.readCsv(`${dir}/in/*.csv`, { schema: Person }).map((p) => ({ name: p.name.toUpperCase(), next: p.age + 1 })).writeCsv(`${dir}/out/p.csv`))
    expect(fs.readFileSync(r.results[0]!, "utf8")).toBe("name,next\nANN,32\nBOB,43\n")
  })

  it("a mixed folder through loadFile, with the source path on each row", async () => {
    const dir = tempDir()
    writeFile(`${dir}/in/a.jsonl.gz`, jsonl([{ v: 1 }]))
    writeFile(`${dir}/in/b.csv`, "v\n2\n")
    writeFile(`${dir}/in/c.txt`, "3\n")
    const r = await Zephyr.run(Dataset.fromFiles(`${dir}/in/*`).loadFile({ includeFilePaths: true }).map((row) => [path.basename(row.__file_path), String(row.v ?? row.text)]))
    expect(r.results).toEqual([["a.jsonl.gz", "1"], ["b.csv", "2"], ["c.txt", "3"]])
  })

  it("Parquet written and read back, split into several shards by row groups (approxShardBytes)", async () => {
    const dir = tempDir()
    const rows = Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `n${i}`, tags: [i % 3] }))
    const written = await Zephyr.run(Dataset.fromList([rows]).flatMap((xs) => xs).writeParquet(`${dir}/data.parquet`, { rowGroupSize: 500 }))
    const perShard = Dataset.readParquet(`${dir}/*.parquet`, { approxShardBytes: 1 }).mapShard(function* (items, info) {
      let n = 0
      for (const _ of items) n++
      yield { of: info.totalShards, n }
    })
    const r = await Zephyr.run(perShard)
    expect(written.results).toEqual([`${dir}/data.parquet`])
    expect(r.results.map((x) => x.n)).toEqual([500, 500, 500, 500, 500, 500])
    expect(r.results.every((x) => x.of === 6)).toBe(true)
  })
})
