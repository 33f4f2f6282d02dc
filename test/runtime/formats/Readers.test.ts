import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { CounterSet } from "../../../runtime/task/CounterSet.ts"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { glob } from "../../../runtime/FileGlob.ts"
import { read } from "../../../runtime/formats/Readers.ts"
import { counterValues, listDir, readRequest, readRows, rejection, tempDirs, writeItems } from "./Fixtures.ts"

const newDir = tempDirs()

describe("Readers.read", () => {
  it("reads a mixed-format folder with format auto, adding each row's source path", async () => {
    const dir = newDir()
    fs.writeFileSync(path.join(dir, "a.jsonl"), '{"id":1}\n')
    fs.writeFileSync(path.join(dir, "b.json.gz"), zlib.gzipSync('{"id":2}\n'))
    await writeItems(path.join(dir, "c.ndjson.zst"), "jsonl", [{ id: 3 }])
    await writeItems(path.join(dir, "d.parquet"), "parquet", [{ id: 4 }])
    fs.writeFileSync(path.join(dir, "e.csv"), "id\n5\n")
    fs.writeFileSync(path.join(dir, "f.txt"), "six\n")
    const counters = new CounterSet()
    const out: Array<unknown> = []
    for (const file of glob(`${dir}/*`)) {
      for await (const chunk of read(readRequest(file, { includeFilePaths: true, filePathColumn: "source", counters }))) out.push(...chunk)
    }
    expect(out).toEqual([
      { id: 1, source: path.join(dir, "a.jsonl") },
      { id: 2, source: path.join(dir, "b.json.gz") },
      { id: 3, source: path.join(dir, "c.ndjson.zst") },
      { id: 4, source: path.join(dir, "d.parquet") },
      { id: "5", source: path.join(dir, "e.csv") },
      { text: "six", source: path.join(dir, "f.txt") }
    ])
    expect(counterValues(counters)["zephyr/records_in"]).toBe(6)
  })

  it("fails an unknown extension with an Unsupported error", async () => {
    const dir = newDir()
    fs.writeFileSync(path.join(dir, "a.xml"), "<a/>")
    const error = await rejection(readRows(path.join(dir, "a.xml")))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`Unsupported file extension ".xml" for ${path.join(dir, "a.xml")}`)
  })

  it("reports a missing file as a data error naming it", async () => {
    const file = path.join(newDir(), "gone.jsonl")
    const error = await rejection(readRows(file))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`Cannot read ${file}`)
    expect(error.file).toBe(file)
  })

  it("reads by the requested format whatever the extension", async () => {
    const dir = newDir()
    fs.writeFileSync(path.join(dir, "rows.log"), '{"a":1}\n')
    expect(await readRows(path.join(dir, "rows.log"), { kind: "loadJsonl", format: "jsonl" })).toEqual([{ a: 1 }])
    await writeItems(path.join(dir, "rows.bin"), "parquet", [{ a: 2 }])
    expect(await readRows(path.join(dir, "rows.bin"), { kind: "loadParquet", format: "parquet" })).toEqual([{ a: 2 }])
  })

  it("reads only the columns asked for from JSONL, and every field when rows are decoded with a schema", async () => {
    const dir = newDir()
    const file = path.join(dir, "rows.jsonl")
    fs.writeFileSync(file, '{"id":1,"key":"a","text":"long text"}\n{"id":2,"key":"b","meta":{"x":1}}\nnot json\n')
    const counters = new CounterSet()
    expect(await readRows(file, { columns: ["key"], includeFilePaths: true, filePathColumn: "path", onBadRow: "skip", counters })).toEqual([{ key: "a", path: file }, { key: "b", path: file }])
    // A bad line is still a bad row.
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(1)
    const schema = Schema.Struct({ id: Schema.Number, key: Schema.String })
    expect(await readRows(file, { columns: ["key"], schema, onBadRow: "skip" })).toEqual([{ id: 1, key: "a" }, { id: 2, key: "b" }])
  })

  it("publishes quarantined rows when the consumer stops early", async () => {
    const dir = newDir()
    const file = path.join(dir, "a.jsonl")
    fs.writeFileSync(file, ["oops", ...Array.from({ length: 10_000 }, (_, i) => JSON.stringify({ i }))].join("\n"))
    const quarantineDir = path.join(dir, "q")
    for await (const chunk of read(readRequest(file, { onBadRow: "quarantine", quarantineDir }))) {
      expect(chunk.length).toBeGreaterThan(0)
      break
    }
    expect(listDir(quarantineDir)).toHaveLength(1)
  })
})
