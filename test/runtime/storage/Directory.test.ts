import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Directory from "../../../runtime/storage/Directory.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tempDir = useTempDirs("zephyr-directory-")

describe("Directory.make", () => {
  it("creates the missing levels and returns the first one created, as Node's recursive mkdir", () => {
    const root = tempDir()
    const dir = path.join(root, "a", "b", "c")
    expect(Directory.make(dir)).toBe(path.join(root, "a"))
    expect(fs.statSync(dir).isDirectory()).toBe(true)
    expect(Directory.make(dir)).toBeUndefined()
    expect(Directory.make(path.join(root, "a", "b", "d"))).toBe(path.join(root, "a", "b", "d"))
  })

  it("gives the new levels its mode", () => {
    const root = tempDir()
    Directory.make(path.join(root, "p", "q"), { mode: 0o700 })
    expect(fs.statSync(path.join(root, "p")).mode & 0o777).toBe(0o700)
    expect(fs.statSync(path.join(root, "p", "q")).mode & 0o777).toBe(0o700)
  })

  it("resolves a relative path against the working directory", () => {
    const root = tempDir()
    const relative = path.relative(process.cwd(), path.join(root, "r", "s"))
    expect(Directory.make(relative)).toBe(path.join(root, "r"))
  })

  it("refuses a file in the way with Node's errors, naming the path", () => {
    const root = tempDir()
    const file = path.join(root, "file")
    fs.writeFileSync(file, "x")
    expect(() => Directory.make(file)).toThrow(expect.objectContaining({ code: "EEXIST", message: `EEXIST: file already exists, mkdir '${file}'` }))
    expect(() => Directory.make(path.join(file, "below", "more"))).toThrow(expect.objectContaining({ code: "ENOTDIR", path: file }))
  })

  // /proc refuses new entries with ENOENT, although the parent exists: Node 20's recursive
  // mkdir retries forever there (a test of it would never end, so the call is not made).
  it.runIf(fs.existsSync("/proc/self"))("fails at once where the parent exists but refuses new entries (/proc), naming the level", () => {
    expect(() => Directory.make("/proc/zephyr-no-such/a/b")).toThrow(expect.objectContaining({ code: "ENOENT", path: "/proc/zephyr-no-such" }))
  })
})
