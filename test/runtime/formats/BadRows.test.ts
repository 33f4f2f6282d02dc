import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { CounterSet } from "../../../runtime/task/CounterSet.ts"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { BadRows } from "../../../runtime/formats/BadRows.ts"
import { CorruptInput } from "../../../runtime/formats/Compression.ts"
import { counterValues, listDir, tempDirs } from "./Fixtures.ts"

const newDir = tempDirs()

describe("BadRows", () => {
  it("throws a data error for fail, with file and line", () => {
    const bad = new BadRows("in/a.jsonl", "fail", new CounterSet(), newDir(), "line")
    let error: unknown
    try { bad.reject(7, "invalid JSON: x", "{") } catch (e) { error = e }
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error).toMatchObject({ message: "in/a.jsonl:7: invalid JSON: x", file: "in/a.jsonl", line: 7 })
  })

  it("names Parquet rows by row number", () => {
    const bad = new BadRows("in/a.parquet", "fail", new CounterSet(), newDir(), "row")
    expect(() => bad.reject(3, "nope", {})).toThrow("in/a.parquet row 3: nope")
  })

  it("publishes the side file atomically on commit, and removes it on abort", () => {
    const dir = newDir()
    const counters = new CounterSet()
    const kept = new BadRows("in/a.jsonl", "quarantine", counters, dir, "line")
    kept.reject(1, "bad", "x")
    const corrupt = new CorruptInput("in/a.jsonl", "Corrupt or truncated gzip data")
    corrupt.line = 9
    corrupt.partial = "{\"par"
    kept.corrupt(corrupt)
    expect(listDir(dir).filter((f) => !f.startsWith("."))).toEqual([])
    kept.commit()
    expect(listDir(dir)).toEqual([kept.sideFileName()])
    const entries = fs.readFileSync(path.join(dir, kept.sideFileName()), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(entries).toEqual([
      { file: "in/a.jsonl", line: 1, error: "in/a.jsonl:1: bad", row: "x" },
      { file: "in/a.jsonl", line: 9, error: "Corrupt or truncated gzip data (while reading line 9); the rest of the file was not read", row: "{\"par" }
    ])
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(2)

    const other = path.join(dir, "other")
    const dropped = new BadRows("in/b.jsonl", "quarantine", new CounterSet(), other, "line")
    dropped.reject(1, "bad", "x")
    dropped.abort()
    expect(listDir(other)).toEqual([])
  })

  it("gives files with the same name in different folders, and different row ranges, different side files", () => {
    const dir = newDir()
    const names = [
      new BadRows("x/a.jsonl", "quarantine", new CounterSet(), dir, "line").sideFileName(),
      new BadRows("y/a.jsonl", "quarantine", new CounterSet(), dir, "line").sideFileName(),
      new BadRows("x/a.parquet", "quarantine", new CounterSet(), dir, "row", { start: 0, end: 10 }).sideFileName(),
      new BadRows("x/a.parquet", "quarantine", new CounterSet(), dir, "row", { start: 10, end: 20 }).sideFileName()
    ]
    expect(new Set(names).size).toBe(4)
    expect(names.every((n) => n.startsWith("a."))).toBe(true)
  })

  it("counts but writes nothing for skip", () => {
    const dir = newDir()
    const counters = new CounterSet()
    const bad = new BadRows("a.jsonl", "skip", counters, dir, "line")
    bad.reject(1, "bad", "x")
    bad.commit()
    expect(listDir(dir)).toEqual([])
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(1)
  })
})
