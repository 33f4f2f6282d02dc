import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { parquetMetadata, parquetSchema } from "hyparquet"
import { describe, expect, it } from "vitest"
import { CounterSet } from "../../../runtime/task/CounterSet.ts"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { counterValues, listDir, readRows, rejection, tempDirs, writeItems } from "./Fixtures.ts"

const newDir = tempDirs()

const metadataOf = (file: string) => {
  const b = fs.readFileSync(file)
  return parquetMetadata(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength))
}
const columnsOf = (file: string) => parquetSchema(metadataOf(file)).children.map((c) => c.element.name)

describe("writeParquet", () => {
  it("round-trips nested records: structs, lists, lists of structs, nulls, dates, bytes, big integers", async () => {
    const rows = Array.from({ length: 2500 }, (_, i) => ({
      id: i,
      big: i === 7 ? 2n ** 62n : BigInt(i),
      score: i / 3,
      name: i % 10 === 0 ? null : `name ${i}`,
      flag: i % 2 === 0,
      when: new Date(Date.UTC(2024, 0, 1) + i * 1000),
      raw: new Uint8Array([i % 256, 1, 2]),
      tags: i % 4 === 0 ? [] : ["a", `b${i}`],
      meta: { lang: i % 3 === 0 ? "fr" : "en", stats: { words: i * 2, ratio: 0.5 } },
      spans: [{ start: i, end: i + 1, label: "x" }, { start: 0, end: 0, label: null }]
    }))
    const file = path.join(newDir(), "nested.parquet")
    const counters = new CounterSet()
    const result = await writeItems(file, "parquet", rows, { rowGroupSize: 1000 }, counters, 700)
    expect(result).toEqual({ path: file, rows: rows.length, bytes: fs.statSync(file).size })
    expect(counterValues(counters)).toEqual({ "zephyr/records_out": rows.length, "zephyr/bytes_written": result.bytes })
    expect(metadataOf(file).row_groups.map((g) => Number(g.num_rows))).toEqual([1000, 1000, 500])
    const back = await readRows(file)
    expect(back).toEqual(rows.map((r) => ({ ...r, big: r.id === 7 ? 2n ** 62n : r.id })))
    expect(listDir(path.dirname(file))).toEqual(["nested.parquet"])
  })

  it("writes a valid empty file, with the explicit schema's columns when given", async () => {
    const dir = newDir()
    await writeItems(path.join(dir, "empty.parquet"), "parquet", [])
    expect(await readRows(path.join(dir, "empty.parquet"))).toEqual([])
    expect(Number(metadataOf(path.join(dir, "empty.parquet")).num_rows)).toBe(0)

    await writeItems(path.join(dir, "typed.parquet"), "parquet", [], { schema: { id: "int", tags: ["string"], meta: { a: "double" } } })
    expect(columnsOf(path.join(dir, "typed.parquet"))).toEqual(["id", "tags", "meta"])
    expect(await readRows(path.join(dir, "typed.parquet"))).toEqual([])
  })

  it("infers the schema from all rows: null widens to a type, int to float, new columns and fields appear later", async () => {
    const rows: Array<Record<string, unknown>> = [{ a: null, x: 1, s: { p: 1 } }, { a: 5, x: 2 }]
    for (let i = 0; i < 5000; i++) rows.push({ a: i, x: i })
    rows.push({ a: 1, x: 2.5, late: "new column", s: { p: 2, q: "new field" } })
    const file = path.join(newDir(), "wide.parquet")
    await writeItems(file, "parquet", rows, { rowGroupSize: 1000 })
    expect(columnsOf(file)).toEqual(["a", "x", "s", "late"])
    expect(listDir(path.dirname(file))).toEqual(["wide.parquet"])
    const back = (await readRows(file)) as Array<Record<string, unknown>>
    expect(back[0]).toEqual({ a: null, x: 1, s: { p: 1, q: null }, late: null })
    expect(back[1]).toEqual({ a: 5, x: 2, s: null, late: null })
    expect(back.at(-1)).toEqual({ a: 1, x: 2.5, late: "new column", s: { p: 2, q: "new field" } })
    const x = parquetSchema(metadataOf(file)).children.find((c) => c.element.name === "x")!
    expect(x.element.type).toBe("DOUBLE")
  })

  it("reports an int-vs-string conflict naming the column, the file and both types", async () => {
    const dir = newDir()
    const rows: Array<Record<string, unknown>> = Array.from({ length: 3000 }, (_, i) => ({ id: i, meta: { n: i } }))
    rows.push({ id: "x1", meta: { n: 1 } })
    const file = path.join(dir, "conflict.parquet")
    const error = await rejection(writeItems(file, "parquet", rows, { rowGroupSize: 1000 }))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`Parquet schema conflict in ${file}: column "id" holds int values and a string value (row 3001: "x1")`)
    const nested = await rejection(writeItems(file, "parquet", [{ meta: { n: "a" } }, { meta: { n: 2 } }]))
    expect(nested.message).toContain(`column "meta.n" holds string values and an int value`)
    expect(listDir(dir)).toEqual([])
  })

  it("rejects rows that are not records", async () => {
    const error = await rejection(writeItems(path.join(newDir(), "s.parquet"), "parquet", ["just a string"]))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain("writeParquet needs records")
  })

  it("follows an explicit Effect Schema: typed columns, extra keys dropped, mismatches named", async () => {
    const schema = Schema.Struct({
      id: Schema.Int,
      name: Schema.String,
      score: Schema.optional(Schema.Number),
      tags: Schema.Array(Schema.String),
      meta: Schema.NullOr(Schema.Struct({ lang: Schema.String }))
    })
    const dir = newDir()
    const file = path.join(dir, "s.parquet")
    await writeItems(file, "parquet", [{ id: 1, name: "a", tags: ["x"], meta: { lang: "en" }, extra: true }, { id: 2, name: "b", score: 1.5, tags: [], meta: null }], { schema })
    const tree = parquetSchema(metadataOf(file))
    expect(tree.children.map((c) => [c.element.name, c.element.type ?? c.element.converted_type ?? "group"])).toEqual([
      ["id", "INT64"], ["name", "BYTE_ARRAY"], ["score", "DOUBLE"], ["tags", "LIST"], ["meta", "group"]
    ])
    expect(await readRows(file)).toEqual([
      { id: 1, name: "a", score: null, tags: ["x"], meta: { lang: "en" } },
      { id: 2, name: "b", score: 1.5, tags: [], meta: null }
    ])
    const error = await rejection(writeItems(path.join(dir, "bad.parquet"), "parquet", [{ id: 1, name: "a" }, { id: 2.5, name: "b" }], { schema }))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`Cannot write row 2 to ${path.join(dir, "bad.parquet")}: column "id" expects int but got float 2.5`)
  })

  it("takes a plain description as the schema, and rejects an invalid one", async () => {
    const dir = newDir()
    const file = path.join(dir, "d.parquet")
    await writeItems(file, "parquet", [{ id: 3, when: new Date(0), blob: { any: ["json"] } }], { schema: { id: "int64", when: "timestamp", blob: "json" } })
    expect(await readRows(file)).toEqual([{ id: 3, when: new Date(0), blob: { any: ["json"] } }])
    const error = await rejection(writeItems(path.join(dir, "e.parquet"), "parquet", [], { schema: { id: "uint128" } }))
    expect(error.message).toContain("Invalid writeParquet schema")
  })

  it("compresses pages with zstd by default, or snappy, gzip, none; rejects unknown codecs and .gz extensions", async () => {
    const dir = newDir()
    const rows = Array.from({ length: 3000 }, (_, i) => ({ i, text: `some repeated text ${i % 10}` }))
    for (const compression of [undefined, "snappy", "gzip", "none"]) {
      const file = path.join(dir, `${compression ?? "default"}.parquet`)
      await writeItems(file, "parquet", rows, compression === undefined ? {} : { compression })
      const codec = metadataOf(file).row_groups[0]!.columns[0]!.meta_data!.codec
      expect(codec).toBe(compression === undefined ? "ZSTD" : compression === "none" ? "UNCOMPRESSED" : compression.toUpperCase())
      expect(await readRows(file)).toEqual(rows)
    }
    expect((await rejection(writeItems(path.join(dir, "x.parquet"), "parquet", rows, { compression: "lzo" }))).message).toContain("compression")
    expect((await rejection(writeItems(path.join(dir, "x.parquet.gz"), "parquet", rows))).message).toContain("Parquet compresses its pages itself")
    expect((await rejection(writeItems(path.join(dir, "x.parquet"), "parquet", rows, { rowGroupSize: 0 }))).message).toContain("rowGroupSize")
  })
})
