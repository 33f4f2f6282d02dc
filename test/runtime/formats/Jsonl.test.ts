import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { describe, expect, it } from "vitest"
import { CHUNK_ROWS } from "../../../runtime/formats/Chunks.ts"
import { CounterSet } from "../../../runtime/task/CounterSet.ts"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { counterValues, listDir, readAll, readRequest, readRows, rejection, tempDirs, writeItems } from "./Fixtures.ts"

const newDir = tempDirs()

const records = Array.from({ length: 10_000 }, (_, i) => ({
  id: i, name: `row ${i}`, score: i / 7, ok: i % 2 === 0, tags: ["a", `t${i % 5}`], nested: { deep: { n: i, s: null } }, unicode: "héllo ✓ 🎉"
}))

describe("JSONL", () => {
  for (const name of ["data.jsonl", "data.jsonl.gz", "data.jsonl.gzip", "data.jsonl.zst", "data.jsonl.zstd", "data.json", "data.ndjson.gz"]) {
    it(`round-trips ${name}`, async () => {
      const file = path.join(newDir(), "deep", "er", name)
      const out = new CounterSet()
      const written = await writeItems(file, "jsonl", records, {}, out)
      expect(written).toEqual({ path: file, rows: records.length, bytes: fs.statSync(file).size })
      expect(counterValues(out)).toEqual({ "zephyr/records_out": records.length, "zephyr/bytes_written": written.bytes })
      expect(listDir(path.dirname(file))).toEqual([name])

      const counters = new CounterSet()
      const { rows, chunks } = await readAll(readRequest(file, { counters }))
      expect(rows).toEqual(records)
      expect(Math.max(...chunks)).toBeLessThanOrEqual(CHUNK_ROWS)
      expect(counterValues(counters)).toEqual({ "zephyr/records_in": records.length, "zephyr/bytes_read": written.bytes })
    })
  }

  it("compresses gzip at level 1 by default and honours `level`", async () => {
    const dir = newDir()
    const fast = await writeItems(path.join(dir, "fast.jsonl.gz"), "jsonl", records)
    const best = await writeItems(path.join(dir, "best.jsonl.gz"), "jsonl", records, { level: 9 })
    expect(best.bytes).toBeLessThan(fast.bytes)
    // gzip's header records the level class: 4 = fastest, 2 = best compression.
    expect(fs.readFileSync(path.join(dir, "fast.jsonl.gz"))[8]).toBe(4)
    expect(fs.readFileSync(path.join(dir, "best.jsonl.gz"))[8]).toBe(2)
    expect(await readRows(path.join(dir, "best.jsonl.gz"))).toEqual(records)
    const bad = await rejection(writeItems(path.join(dir, "x.jsonl.gz"), "jsonl", records, { level: 11 }))
    expect(bad).toBeInstanceOf(ZephyrWorkerError)
  })

  it("writes valid empty files for empty input, for every codec", async () => {
    const dir = newDir()
    for (const name of ["e.jsonl", "e.jsonl.gz", "e.jsonl.zst"]) {
      const file = path.join(dir, name)
      expect(await writeItems(file, "jsonl", [])).toMatchObject({ rows: 0 })
      expect(await readRows(file)).toEqual([])
    }
    expect(fs.statSync(path.join(dir, "e.jsonl")).size).toBe(0)
    expect(zlib.gunzipSync(fs.readFileSync(path.join(dir, "e.jsonl.gz"))).length).toBe(0)
  })

  it("skips blank lines, reads \\r\\n and a last line without newline, writes undefined as null", async () => {
    const file = path.join(newDir(), "x.jsonl")
    fs.writeFileSync(file, '{"a":1}\r\n\r\n   \n{"a":2}\n\n[1,2]\n"s"\n3')
    expect(await readRows(file)).toEqual([{ a: 1 }, { a: 2 }, [1, 2], "s", 3])
    const out = path.join(path.dirname(file), "u.jsonl")
    await writeItems(out, "jsonl", [undefined, null, "x"])
    expect(fs.readFileSync(out, "utf8")).toBe('null\nnull\n"x"\n')
  })

  it("fails with file:line on invalid JSON by default", async () => {
    const file = path.join(newDir(), "bad.jsonl")
    fs.writeFileSync(file, '{"a":1}\n\n{"a":\n{"a":3}\n')
    const error = await rejection(readRows(file))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain(`${file}:3: invalid JSON`)
    expect(error.file).toBe(file)
    expect(error.line).toBe(3)
  })

  it("skips invalid JSON lines and counts them with onBadRow: skip", async () => {
    const file = path.join(newDir(), "bad.jsonl")
    fs.writeFileSync(file, '{"a":1}\nnot json\n{"a":3}\n{broken\n')
    const counters = new CounterSet()
    expect(await readRows(file, { onBadRow: "skip", counters })).toEqual([{ a: 1 }, { a: 3 }])
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(2)
    expect(counterValues(counters)["zephyr/records_in"]).toBe(2)
    expect(listDir(path.join(path.dirname(file), "_quarantine"))).toEqual([])
  })

  it("quarantines invalid JSON lines to a side file named after the source", async () => {
    const dir = newDir()
    const file = path.join(dir, "bad.jsonl")
    fs.writeFileSync(file, '{"a":1}\nnot json\n{"a":3}\n')
    const quarantineDir = path.join(dir, "q")
    const counters = new CounterSet()
    expect(await readRows(file, { onBadRow: "quarantine", quarantineDir, counters })).toEqual([{ a: 1 }, { a: 3 }])
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(1)
    const [side, ...others] = listDir(quarantineDir)
    expect(others).toEqual([])
    expect(side).toMatch(/^bad\.jsonl\.[0-9a-f]{10}\.quarantine\.jsonl$/)
    const entries = fs.readFileSync(path.join(quarantineDir, side!), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(entries).toEqual([{ file, line: 2, error: expect.stringContaining(`${file}:2: invalid JSON`), row: "not json" }])
  })

  it("treats a line that is not UTF-8 as a bad row", async () => {
    const dir = newDir()
    const file = path.join(dir, "latin1.jsonl")
    fs.writeFileSync(file, Buffer.concat([Buffer.from('{"a":1}\n"caf'), Buffer.from([0xe9]), Buffer.from('"\n{"a":2}\n')]))
    expect((await rejection(readRows(file))).message).toContain(`${file}:2: the line is not valid UTF-8`)
    const quarantineDir = path.join(dir, "q")
    expect(await readRows(file, { onBadRow: "quarantine", quarantineDir })).toEqual([{ a: 1 }, { a: 2 }])
    const entry = JSON.parse(fs.readFileSync(path.join(quarantineDir, listDir(quarantineDir)[0]!), "utf8"))
    expect(Buffer.from(entry.row.base64, "base64")).toEqual(Buffer.concat([Buffer.from('"caf'), Buffer.from([0xe9]), Buffer.from('"')]))
  })

  describe("a truncated .gz", () => {
    const truncated = (dir: string): string => {
      const lines = Array.from({ length: 50_000 }, (_, i) => JSON.stringify({ i, pad: "p".repeat(i % 40) })).join("\n") + "\n"
      const gz = zlib.gzipSync(lines, { level: 1 })
      const file = path.join(dir, "cut.jsonl.gz")
      fs.writeFileSync(file, gz.subarray(0, Math.floor(gz.length * 0.6)))
      return file
    }

    it("fails by default, naming the file, the byte position and the line", async () => {
      const file = truncated(newDir())
      const error = await rejection(readRows(file))
      expect(error).toBeInstanceOf(ZephyrWorkerError)
      expect(error.message).toMatch(/Corrupt or truncated gzip data in .*cut\.jsonl\.gz \(after \d+ of \d+ compressed bytes\): unexpected end of file \(while reading line \d+\)/)
      expect(error.file).toBe(file)
      expect(error.line).toBeGreaterThan(1000)
    })

    it("keeps the rows before the damage and counts one dropped row with skip", async () => {
      const file = truncated(newDir())
      const counters = new CounterSet()
      const rows = (await readRows(file, { onBadRow: "skip", counters })) as Array<{ i: number }>
      expect(rows.length).toBeGreaterThan(1000)
      expect(rows.every((r, i) => r.i === i)).toBe(true)
      expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(1)
    })

    it("records the damage in the side file with quarantine", async () => {
      const dir = newDir()
      const file = truncated(dir)
      const quarantineDir = path.join(dir, "q")
      const rows = await readRows(file, { onBadRow: "quarantine", quarantineDir })
      const lines = fs.readFileSync(path.join(quarantineDir, listDir(quarantineDir)[0]!), "utf8").trim().split("\n")
      expect(lines).toHaveLength(1)
      const entry = JSON.parse(lines[0]!)
      expect(entry.file).toBe(file)
      expect(entry.line).toBe(rows.length + 1)
      expect(entry.error).toContain("the rest of the file was not read")
      expect(typeof entry.row).toBe("string")
    })
  })

  it("applies the same policy to a truncated .zst", async () => {
    const dir = newDir()
    const file = path.join(dir, "cut.jsonl.zst")
    const items = Array.from({ length: 100_000 }, (_, i) => ({ i, s: `value ${i * 7919}` }))
    await writeItems(file, "jsonl", items)
    const full = fs.readFileSync(file)
    fs.writeFileSync(file, full.subarray(0, full.length - 10))
    expect((await rejection(readRows(file))).message).toMatch(/Corrupt or truncated zstd data in .*cut\.jsonl\.zst/)
    const counters = new CounterSet()
    const rows = await readRows(file, { onBadRow: "skip", counters })
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.length).toBeLessThan(items.length)
    expect(rows).toEqual(items.slice(0, rows.length))
    expect(counterValues(counters)["zephyr/rows_dropped"]).toBe(1)
  })

  it("leaves neither the file nor a temporary file when the input fails", async () => {
    const dir = newDir()
    async function* failing() {
      yield [{ a: 1 }]
      throw new Error("upstream failed")
    }
    const { write } = await import("../../../runtime/formats/Writers.ts")
    const error = await rejection(write({ path: path.join(dir, "o.jsonl.gz"), format: "jsonl", options: {}, counters: new CounterSet() }, failing()))
    expect(error.message).toBe("upstream failed")
    expect(listDir(dir)).toEqual([])
  })

  it("reports an item JSON cannot hold as a data error", async () => {
    const error = await rejection(writeItems(path.join(newDir(), "o.jsonl"), "jsonl", [{ n: 1n }]))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.message).toContain("Cannot write an item as JSON")
  })
})
