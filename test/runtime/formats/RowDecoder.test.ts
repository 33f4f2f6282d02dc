import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { CounterSet } from "../../../runtime/task/CounterSet.ts"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { counterValues, listDir, readRows, rejection, tempDirs } from "./Fixtures.ts"

const newDir = tempDirs()

const Doc = Schema.Struct({ id: Schema.Int, title: Schema.String, score: Schema.optional(Schema.Number) })

describe("typed rows (schema decoding)", () => {
  const input = [
    JSON.stringify({ id: 1, title: "one", score: 0.5, extra: "stripped by the struct" }),
    JSON.stringify({ id: "2", title: "two" }),
    JSON.stringify({ id: 3, title: "three" }),
    JSON.stringify({ id: 4 })
  ].join("\n")

  it("decodes each row, and fails by default naming file, line and the schema issue", async () => {
    const file = path.join(newDir(), "docs.jsonl")
    fs.writeFileSync(file, input)
    const error = await rejection(readRows(file, { schema: Doc }))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.file).toBe(file)
    expect(error.line).toBe(2)
    expect(error.message).toContain(`${file}:2: row does not match the schema`)
    expect(error.message).toContain(`["id"]`)
    expect(error.message).toContain(`Expected number, actual "2"`)
  })

  it("drops and counts bad rows with skip, adding the file path after decoding", async () => {
    const file = path.join(newDir(), "docs.jsonl")
    fs.writeFileSync(file, input)
    const counters = new CounterSet()
    const rows = await readRows(file, { schema: Doc, onBadRow: "skip", counters, includeFilePaths: true })
    expect(rows).toEqual([{ id: 1, title: "one", score: 0.5, __file_path: file }, { id: 3, title: "three", __file_path: file }])
    expect(counterValues(counters)).toMatchObject({ "zephyr/rows_dropped": 2, "zephyr/records_in": 2 })
  })

  it("writes bad rows with their errors to the side file with quarantine", async () => {
    const dir = newDir()
    const file = path.join(dir, "docs.jsonl")
    fs.writeFileSync(file, input)
    const quarantineDir = path.join(dir, "quarantine")
    const counters = new CounterSet()
    expect(await readRows(file, { schema: Doc, onBadRow: "quarantine", quarantineDir, counters })).toHaveLength(2)
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(2)
    const files = listDir(quarantineDir)
    expect(files).toHaveLength(1)
    const entries = fs.readFileSync(path.join(quarantineDir, files[0]!), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(entries.map((e) => ({ file: e.file, line: e.line, row: e.row }))).toEqual([
      { file, line: 2, row: { id: "2", title: "two" } },
      { file, line: 4, row: { id: 4 } }
    ])
    expect(entries[1].error).toContain(`["title"]`)
    expect(entries[1].error).toContain("is missing")
  })
})
