import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as ExecutionDir from "../../../runtime/storage/ExecutionDir.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tempDir = useTempDirs("zephyr-execdir-")
const module = { path: "/p/pipe.ts", args: { n: "1" } }

describe("execution ids", () => {
  it.each([
    ["wordcount-ec52c64b-mx2pyftc1352", true],
    ["A_b-9", true],
    ["x".repeat(128), true],
    ["x".repeat(129), false],
    ["", false],
    [".", false],
    ["..", false],
    ["../victim", false],
    ["/tmp/victim", false],
    ["a/b", false],
    ["a\\b", false],
    ["a.b", false],
    ["é", false],
    ["a\n", false]
  ])("%j is valid: %s", (id, valid) => {
    expect(ExecutionDir.isValidId(id)).toBe(valid)
    if (valid) expect(ExecutionDir.isInside("/chunks", id)).toBe(true)
    else expect(() => ExecutionDir.of("/chunks", id)).toThrow(/invalid execution id/)
  })
})

describe("ExecutionDir.open", () => {
  it("creates a new execution 0700 with its marker, and reopens it by id as a resumed one", () => {
    const chunks = tempDir()
    const made = ExecutionDir.open(chunks, { executionId: undefined, resume: false, module }, () => "fresh-1")
    expect(made).toEqual({ executionId: "fresh-1", dir: path.join(chunks, "fresh-1"), resumed: false })
    expect(fs.statSync(made.dir).mode & 0o777).toBe(0o700)
    expect(ExecutionDir.readMarker(made.dir)).toMatchObject({ executionId: "fresh-1", module })
    expect(ExecutionDir.open(chunks, { executionId: "fresh-1", resume: true }, () => "unused")).toEqual({ ...made, resumed: true })
    expect(ExecutionDir.open(chunks, { executionId: "fresh-1", resume: false }, () => "unused")).toEqual({ ...made, resumed: true })
  })

  it("never adopts an existing id when it makes a new one", () => {
    const chunks = tempDir()
    fs.mkdirSync(path.join(chunks, "taken"))
    const ids = ["taken", "free"]
    expect(ExecutionDir.open(chunks, { executionId: undefined, resume: false }, () => ids.shift()!).executionId).toBe("free")
    expect(fs.readdirSync(path.join(chunks, "taken"))).toEqual([])
  })

  it("fails on resuming an unknown id, and on a directory without the marker, touching nothing", () => {
    const chunks = tempDir()
    expect(() => ExecutionDir.open(chunks, { executionId: "nothere", resume: true }, () => "x")).toThrow(expect.objectContaining({ reason: "unknown-execution" }))
    expect(fs.readdirSync(chunks)).toEqual([])
    fs.mkdirSync(path.join(chunks, "foreign"))
    fs.writeFileSync(path.join(chunks, "foreign", "data"), "x")
    for (const resume of [true, false]) {
      expect(() => ExecutionDir.open(chunks, { executionId: "foreign", resume }, () => "x")).toThrow(/is not a Zephyr execution/)
    }
    expect(fs.readdirSync(path.join(chunks, "foreign"))).toEqual(["data"])
  })

  it("removes a directory only when it carries the marker of that execution", () => {
    const chunks = tempDir()
    const made = ExecutionDir.open(chunks, { executionId: "mine", resume: false }, () => "x")
    fs.mkdirSync(path.join(chunks, "other"))
    expect(ExecutionDir.removeIfMarked(path.join(chunks, "other"), "other")).toBe(false)
    expect(ExecutionDir.removeIfMarked(made.dir, "not-mine")).toBe(false)
    expect(fs.existsSync(made.dir)).toBe(true)
    expect(ExecutionDir.removeIfMarked(made.dir, "mine")).toBe(true)
    expect(fs.readdirSync(chunks)).toEqual(["other"])
  })
})

describe("a symbolic link in the chunk directory", () => {
  it("is never used as an execution directory, even one pointing at a marked execution", () => {
    const chunks = tempDir()
    const elsewhere = tempDir()
    const real = ExecutionDir.open(elsewhere, { executionId: "real", resume: false }, () => "x")
    fs.symlinkSync(real.dir, path.join(chunks, "link"))
    fs.writeFileSync(ExecutionDir.markerFile(real.dir), JSON.stringify({ ...ExecutionDir.readMarker(real.dir), executionId: "link" }))
    expect(() => ExecutionDir.open(chunks, { executionId: "link", resume: true }, () => "x")).toThrow(/is a symbolic link/)
  })
})
