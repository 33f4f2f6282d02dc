import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { AtomicFile } from "../../../runtime/formats/AtomicFile.ts"
import { listDir, tempDirs } from "./Fixtures.ts"

const newDir = tempDirs()

describe("AtomicFile", () => {
  it("shows nothing under the final name until commit, creating parent folders", async () => {
    const dir = newDir()
    const target = path.join(dir, "a", "b", "out.txt.gz")
    const file = await AtomicFile.open(target, "gzip", 1)
    const big = Buffer.alloc(8 << 20, "abc\n")
    await file.write(big)
    await file.write(Buffer.from("end\n"))
    expect(fs.existsSync(target)).toBe(false)
    expect(listDir(path.dirname(target))).toHaveLength(1)
    const bytes = await file.commit()
    expect(bytes).toBe(fs.statSync(target).size)
    expect(zlib.gunzipSync(fs.readFileSync(target)).toString()).toBe(big.toString() + "end\n")
    expect(listDir(path.dirname(target))).toEqual(["out.txt.gz"])
  })

  it("a place no file can be written is the user's to fix at once: a data error naming the output and the file system's reason", async () => {
    const dir = newDir()
    const file = path.join(dir, "file")
    fs.writeFileSync(file, "x")
    const refusal = async (target: string) => AtomicFile.open(target, "none", 0).then(() => undefined, (e) => e)
    const under = await refusal(path.join(file, "out", "part-0.jsonl"))
    expect(under).toBeInstanceOf(ZephyrWorkerError)
    expect(under).toMatchObject({ reason: "bad-data", file: path.join(file, "out", "part-0.jsonl") })
    expect(under.message).toBe(`Cannot write the output ${path.join(file, "out", "part-0.jsonl")}: ENOTDIR: not a directory, mkdir '${path.join(file, "out")}'. Choose an output path in a directory you can create and write to.`)
    if (fs.existsSync("/proc/self")) expect((await refusal("/proc/zephyr-no-such/out.jsonl")).message).toContain("ENOENT: no such file or directory, mkdir '/proc/zephyr-no-such'")
    expect(listDir(dir)).toEqual(["file"])
  })

  it("removes the temporary file on abort, even with a write in flight", async () => {
    const dir = newDir()
    for (const codec of ["none", "gzip", "zstd"] as const) {
      const file = await AtomicFile.open(path.join(dir, `x-${codec}`), codec, 1)
      await file.write(Buffer.alloc(8 << 20, 7))
      await file.abort()
    }
    expect(listDir(dir)).toEqual([])
  })

  it("replaces an existing file only on commit", async () => {
    const dir = newDir()
    const target = path.join(dir, "keep.txt")
    fs.writeFileSync(target, "old")
    const file = await AtomicFile.open(target, "none", 0)
    await file.write(Buffer.from("new"))
    expect(fs.readFileSync(target, "utf8")).toBe("old")
    await file.commit()
    expect(fs.readFileSync(target, "utf8")).toBe("new")
  })
})
