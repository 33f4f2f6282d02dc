import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { CounterSet } from "../../../runtime/task/CounterSet.ts"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { counterValues, listDir, readRows, rejection, tempDirs, writeItems } from "./Fixtures.ts"

const newDir = tempDirs()

describe("CSV", () => {
  const items = [
    { id: 1, name: "plain", note: "comma, inside", ok: true },
    { id: 2, name: 'quote "q"', note: "line\nbreak", ok: false },
    { id: 3, name: "ünï", note: null, ok: true }
  ]

  for (const name of ["c.csv", "c.csv.gz", "c.csv.zst"]) {
    it(`round-trips ${name} with a header; values read back as strings`, async () => {
      const file = path.join(newDir(), name)
      await writeItems(file, "csv", items, {}, new CounterSet(), 2)
      expect(await readRows(file)).toEqual([
        { id: "1", name: "plain", note: "comma, inside", ok: "true" },
        { id: "2", name: 'quote "q"', note: "line\nbreak", ok: "false" },
        { id: "3", name: "ünï", note: "", ok: "true" }
      ])
    })
  }

  it("refuses a key first seen after the header was taken from the first chunk, unless columns are given", async () => {
    const dir = newDir()
    const rows = [{ a: 1 }, { a: 2, late: "x" }]
    const error = await rejection(writeItems(path.join(dir, "late.csv"), "csv", rows, {}, new CounterSet(), 1))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`Cannot write item 2 to ${path.join(dir, "late.csv")}: its key "late" is not among the CSV columns`)
    expect(listDir(dir)).toEqual([])
    await writeItems(path.join(dir, "chosen.csv"), "csv", rows, { columns: ["a"] }, new CounterSet(), 1)
    expect(fs.readFileSync(path.join(dir, "chosen.csv"), "utf8")).toBe("a\n1\n2\n")
  })

  it("writes the `columns` option in order, nested values as JSON, and a header alone for empty input", async () => {
    const dir = newDir()
    const file = path.join(dir, "cols.csv")
    await writeItems(file, "csv", [{ b: 2, a: { x: [1] } }], { columns: ["a", "b", "c"] })
    expect(fs.readFileSync(file, "utf8")).toBe('a,b,c\n"{""x"":[1]}",2,\n')
    const empty = path.join(dir, "empty.csv")
    await writeItems(empty, "csv", [], { columns: ["a", "b"] })
    expect(fs.readFileSync(empty, "utf8")).toBe("a,b\n")
    await writeItems(path.join(dir, "none.csv"), "csv", [])
    expect(fs.readFileSync(path.join(dir, "none.csv"), "utf8")).toBe("")
    expect(await readRows(path.join(dir, "none.csv"))).toEqual([])
  })

  it("reads with a delimiter, without a header as arrays, with CRLF and a BOM", async () => {
    const dir = newDir()
    const file = path.join(dir, "semi.csv")
    fs.writeFileSync(file, "\uFEFFa;b\r\n1;2\r\n\r\n3;4\r\n")
    expect(await readRows(file, { options: { delimiter: ";" } })).toEqual([{ a: "1", b: "2" }, { a: "3", b: "4" }])
    expect(await readRows(file, { options: { delimiter: ";", header: false } })).toEqual([["a", "b"], ["1", "2"], ["3", "4"]])
  })

  it("decodes typed rows with a schema", async () => {
    const file = path.join(newDir(), "typed.csv")
    fs.writeFileSync(file, "id,score\n1,0.5\n2,oops\n3,2\n")
    const schema = Schema.Struct({ id: Schema.NumberFromString, score: Schema.NumberFromString })
    const error = await rejection(readRows(file, { schema }))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`${file}:3: row does not match the schema`)
    expect(error.message).toContain("oops")
    expect(await readRows(file, { schema, onBadRow: "skip" })).toEqual([{ id: 1, score: 0.5 }, { id: 3, score: 2 }])
  })

  it("applies the bad-row policy to records that do not parse", async () => {
    const dir = newDir()
    const file = path.join(dir, "ragged.csv")
    fs.writeFileSync(file, "a,b\n1,2\n3,4,5\n6,7\n")
    const error = await rejection(readRows(file))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`${file}:3: invalid CSV`)
    expect(error.line).toBe(3)
    const counters = new CounterSet()
    const quarantineDir = path.join(dir, "q")
    expect(await readRows(file, { onBadRow: "quarantine", quarantineDir, counters })).toEqual([{ a: "1", b: "2" }, { a: "6", b: "7" }])
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(1)
    const entry = JSON.parse(fs.readFileSync(path.join(quarantineDir, listDir(quarantineDir)[0]!), "utf8"))
    expect(entry).toMatchObject({ file, line: 3, row: ["3", "4", "5"] })
  })

  it("treats bytes that are not UTF-8 as corrupt input", async () => {
    const file = path.join(newDir(), "bin.csv")
    fs.writeFileSync(file, Buffer.concat([Buffer.from("a\n1\n"), Buffer.from([0xff, 0xfe]), Buffer.from("\n2\n")]))
    expect((await rejection(readRows(file))).message).toContain("is not valid UTF-8")
    const counters = new CounterSet()
    await readRows(file, { onBadRow: "skip", counters })
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(1)
  })
})
