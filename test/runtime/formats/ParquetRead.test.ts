import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { CounterSet } from "../../../runtime/task/CounterSet.ts"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { predicate } from "../../../plan/Expr.ts"
import { col } from "../../../dsl/Expr.ts"
import { splitFile } from "../../../runtime/formats/Readers.ts"
import { counterValues, listDir, readAll, readRequest, readRows, rejection, tempDirs, writeItems } from "./Fixtures.ts"
import { CHUNK_ROWS } from "../../../runtime/formats/Chunks.ts"

const newDir = tempDirs()

/** Pseudo-random text that does not compress away, so unread columns are real bytes. */
let seed = 42
const noise = (n: number): string => {
  let s = ""
  while (s.length < n) s += ((seed = (seed * 1103515245 + 12345) % 2 ** 31) >>> 8).toString(36)
  return s.slice(0, n)
}

/** 10 row groups of 1000 rows; `id` ascending, so each group covers a disjoint id range. */
const rows = Array.from({ length: 10_000 }, (_, i) => ({
  id: i,
  group: `g${String(Math.floor(i / 1000)).padStart(2, "0")}`,
  maybe: Math.floor(i / 1000) === 3 ? null : i,
  text: `document ${i} ${noise(60)}`,
  meta: { rank: i % 1000, lang: i < 5000 ? "en" : "fr" }
}))

const sample = async () => {
  const file = path.join(newDir(), "ten.parquet")
  await writeItems(file, "parquet", rows, { rowGroupSize: 1000 })
  return file
}

const readFiltered = async (file: string, filter: ReturnType<typeof col>, extra: Parameters<typeof readRequest>[1] = {}) => {
  const counters = new CounterSet()
  const { rows: out } = await readAll(readRequest(file, { filter: filter.expr, counters, ...extra }))
  const keep = predicate(filter.expr)
  return { matched: out.filter(keep), all: out, counters: counterValues(counters) }
}

describe("readParquet", () => {
  it("skips row groups whose statistics rule out the filter, and still returns every matching row", async () => {
    const file = await sample()
    const full = await readFiltered(file, col("id").ge(-1))
    expect(full.counters["zephyr/row_groups_read"]).toBe(10)
    expect(full.counters["zephyr/row_groups_skipped"]).toBeUndefined()

    const cases: Array<[ReturnType<typeof col>, number]> = [
      [col("id").ge(8500), 8],
      [col("id").lt(1000).or(col("id").gt(8999)), 8],
      [col("id").eq(4321), 9],
      [col("group").eq("g07"), 9],
      [col("meta").field("lang").eq("fr").and(col("id").lt(6000)), 9],
      [col("maybe").isNull(), 9],
      [col("maybe").isNotNull().not(), 9],
      [col("id").gt(100_000), 10],
      [col("missing").eq(1), 10],
      [col("id").eq(null), 10]
    ]
    for (const [filter, skipped] of cases) {
      const r = await readFiltered(file, filter)
      expect(r.counters["zephyr/row_groups_skipped"] ?? 0, String(filter)).toBe(skipped)
      expect(r.counters["zephyr/row_groups_read"] ?? 0, String(filter)).toBe(10 - skipped)
      expect(r.matched, String(filter)).toEqual(rows.filter(predicate(filter.expr)))
      expect(r.counters["zephyr/bytes_read"]).toBeLessThan(full.counters["zephyr/bytes_read"]!)
    }
  })

  it("cannot skip on what statistics do not decide", async () => {
    const file = await sample()
    for (const filter of [col("id").add(1).gt(5), col("id").ne(5), col("text").not(), col("text").isNull().not(), col("id").gt(9).not()]) {
      const r = await readFiltered(file, filter)
      expect(r.counters["zephyr/row_groups_skipped"] ?? 0, String(filter)).toBe(0)
    }
  })

  it("decides a filter on the file path column from the path", async () => {
    const file = await sample()
    const other = await readFiltered(file, col("__file_path").eq("elsewhere.parquet"), { includeFilePaths: true })
    expect(other.counters["zephyr/row_groups_skipped"]).toBe(10)
    const same = await readFiltered(file, col("__file_path").eq(file), { includeFilePaths: true })
    expect(same.counters["zephyr/row_groups_skipped"] ?? 0).toBe(0)
    expect(same.all[0]).toEqual({ ...rows[0], __file_path: file })
  })

  it("does not prune when a schema transforms the values", async () => {
    const file = await sample()
    const schema = Schema.Struct({ id: Schema.transform(Schema.Number, Schema.Number, { decode: (n) => n + 100_000, encode: (n) => n - 100_000 }) })
    const r = await readFiltered(file, col("id").gt(50_000), { schema })
    expect(r.counters["zephyr/row_groups_skipped"] ?? 0).toBe(0)
    expect(r.matched).toHaveLength(10_000)
    const checked = await readFiltered(file, col("id").gt(8999), { schema: Schema.Struct({ id: Schema.Int.pipe(Schema.nonNegative()) }) })
    expect(checked.counters["zephyr/row_groups_skipped"]).toBe(9)
  })

  it("reads only the requested columns", async () => {
    const file = await sample()
    const all = new CounterSet()
    await readAll(readRequest(file, { counters: all }))
    const some = new CounterSet()
    const out = (await readAll(readRequest(file, { columns: ["id", "meta", "nope"], counters: some }))).rows
    expect(out).toEqual(rows.map(({ id, meta }) => ({ id, meta })))
    expect(counterValues(some)["zephyr/bytes_read"]).toBeLessThan(counterValues(all)["zephyr/bytes_read"]! / 2)
    const none = await readRows(file, { columns: ["__file_path"], includeFilePaths: true })
    expect(none).toHaveLength(10_000)
    expect(none[0]).toEqual({ __file_path: file })
  })

  it(`emits chunks of at most ${CHUNK_ROWS} rows`, async () => {
    const { chunks } = await readAll(readRequest(await sample()))
    expect(chunks.reduce((a, b) => a + b, 0)).toBe(10_000)
    expect(Math.max(...chunks)).toBeLessThanOrEqual(CHUNK_ROWS)
  })

  it("splits a file into row-group-aligned ranges that cover it exactly", async () => {
    const file = await sample()
    const whole = await splitFile(file, Number.MAX_SAFE_INTEGER)
    expect(whole).toEqual([{ start: 0, end: 10_000 }])
    const each = await splitFile(file, 1)
    expect(each).toEqual(Array.from({ length: 10 }, (_, g) => ({ start: g * 1000, end: (g + 1) * 1000 })))
    const size = fs.statSync(file).size
    const some = (await splitFile(file, Math.floor(size / 3)))!
    expect(some.length).toBeGreaterThan(1)
    expect(some.length).toBeLessThan(10)
    expect(some[0]!.start).toBe(0)
    expect(some.at(-1)!.end).toBe(10_000)
    for (let i = 1; i < some.length; i++) expect(some[i]!.start).toBe(some[i - 1]!.end)
    for (const r of some) expect(r.start % 1000).toBe(0)
    const pieces: Array<unknown> = []
    for (const r of some) pieces.push(...(await readRows(file, { rows: r })))
    expect(pieces).toEqual(rows)
    expect(await readRows(file, { rows: { start: 1500, end: 1502 } })).toEqual(rows.slice(1500, 1502))
  })

  it("splits only Parquet: other files are read whole, an empty Parquet file is one empty range", async () => {
    const dir = newDir()
    fs.writeFileSync(path.join(dir, "a.jsonl"), "{}\n")
    expect(await splitFile(path.join(dir, "a.jsonl"), 10)).toBeNull()
    await writeItems(path.join(dir, "e.parquet"), "parquet", [])
    expect(await splitFile(path.join(dir, "e.parquet"), 10)).toEqual([{ start: 0, end: 0 }])
    await writeItems(path.join(dir, "no-extension"), "parquet", rows.slice(0, 10))
    expect(await splitFile(path.join(dir, "no-extension"), 10)).toEqual([{ start: 0, end: 10 }])
  })

  it("decodes typed rows, naming the row number of a bad one, under each policy", async () => {
    const dir = newDir()
    const file = path.join(dir, "typed.parquet")
    await writeItems(file, "parquet", [{ id: 1, name: "a" }, { id: -2, name: "b" }, { id: 3, name: null }, { id: 4, name: "d" }])
    const schema = Schema.Struct({ id: Schema.Number.pipe(Schema.positive()), name: Schema.String })
    const error = await rejection(readRows(file, { schema }))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`${file} row 2: row does not match the schema`)
    expect(error.line).toBe(2)
    const counters = new CounterSet()
    expect(await readRows(file, { schema, onBadRow: "skip", counters })).toEqual([{ id: 1, name: "a" }, { id: 4, name: "d" }])
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(2)
    const quarantineDir = path.join(dir, "q")
    await readRows(file, { schema, onBadRow: "quarantine", quarantineDir, rows: { start: 0, end: 4 } })
    const [side] = listDir(quarantineDir)
    expect(side).toMatch(/^typed\.parquet\.[0-9a-f]{10}\.rows-0-4\.quarantine\.jsonl$/)
    const entries = fs.readFileSync(path.join(quarantineDir, side!), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(entries.map((e) => [e.line, e.row])).toEqual([[2, { id: -2, name: "b" }], [3, { id: 3, name: null }]])
  })

  it("applies the bad-row policy to a file that is not Parquet", async () => {
    const dir = newDir()
    const file = path.join(dir, "junk.parquet")
    fs.writeFileSync(file, "this is not parquet at all")
    const error = await rejection(readRows(file))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`${file} is not a readable Parquet file`)
    const counters = new CounterSet()
    expect(await readRows(file, { onBadRow: "skip", counters })).toEqual([])
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(1)
  })
})
