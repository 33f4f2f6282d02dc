import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { readRows, rejection, tempDirs, writeItems } from "./Fixtures.ts"

const newDir = tempDirs()

describe("text", () => {
  const lines = ["first line", "", "  indented", "ünïcödé ✓", "last"]

  for (const name of ["t.txt", "t.txt.gz", "t.txt.zst"]) {
    it(`round-trips ${name}: loadText gives strings, loadFile gives { text } rows`, async () => {
      const file = path.join(newDir(), name)
      expect(await writeItems(file, "text", lines)).toMatchObject({ rows: lines.length })
      expect(await readRows(file, { kind: "loadText", format: "text" })).toEqual(lines)
      expect(await readRows(file)).toEqual(lines.map((text) => ({ text })))
    })
  }

  it("writes non-strings with String() and reads \\r\\n without the \\r", async () => {
    const dir = newDir()
    const file = path.join(dir, "n.txt")
    await writeItems(file, "text", [1, true, null, "x"])
    expect(fs.readFileSync(file, "utf8")).toBe("1\ntrue\nnull\nx\n")
    const crlf = path.join(dir, "crlf.txt")
    fs.writeFileSync(crlf, "a\r\nb\r\n")
    expect(await readRows(crlf, { kind: "loadText", format: "text" })).toEqual(["a", "b"])
  })

  it("adds the file path to { text } rows but not to loadText strings", async () => {
    const file = path.join(newDir(), "p.txt")
    fs.writeFileSync(file, "a\nb\n")
    expect(await readRows(file, { includeFilePaths: true })).toEqual([{ text: "a", __file_path: file }, { text: "b", __file_path: file }])
    expect(await readRows(file, { kind: "loadText", format: "text", includeFilePaths: true })).toEqual(["a", "b"])
  })

  it("reads any extension with an explicit text format, and an empty file as no rows", async () => {
    const dir = newDir()
    fs.writeFileSync(path.join(dir, "app.log"), "x\ny")
    expect(await readRows(path.join(dir, "app.log"), { kind: "loadText", format: "text" })).toEqual(["x", "y"])
    await writeItems(path.join(dir, "empty.txt"), "text", [])
    expect(fs.statSync(path.join(dir, "empty.txt")).size).toBe(0)
    expect(await readRows(path.join(dir, "empty.txt"), { kind: "loadText", format: "text" })).toEqual([])
  })

  it("treats a line that is not UTF-8 as a bad row", async () => {
    const file = path.join(newDir(), "bin.txt")
    fs.writeFileSync(file, Buffer.concat([Buffer.from("ok\n"), Buffer.from([0xc3, 0x28]), Buffer.from("\nok2\n")]))
    const error = await rejection(readRows(file, { kind: "loadText", format: "text" }))
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect(error.line).toBe(2)
    expect(await readRows(file, { kind: "loadText", format: "text", onBadRow: "skip" })).toEqual(["ok", "ok2"])
  })
})
