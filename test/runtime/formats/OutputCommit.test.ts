import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as OutputCommit from "../../../runtime/formats/OutputCommit.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tmp = useTempDirs("zephyr-commit-")

describe("output commits", () => {
  it("an attempt's pending file is hidden, beside its target, and unique per attempt", () => {
    const dir = tmp()
    const target = path.join(dir, "part-00001.jsonl.gz")
    const a = OutputCommit.pendingPath(target, 2)
    const b = OutputCommit.pendingPath(target, 2)
    expect(path.dirname(a)).toBe(dir)
    expect(path.basename(a)).toMatch(/^\.part-00001\.jsonl\.gz\.zephyr-a2-[0-9a-f]{8}$/)
    expect(a).not.toBe(b)
    // a relative target resolves against the worker's directory: the coordinator gets an absolute path
    expect(path.dirname(OutputCommit.pendingPath("rel/out.txt", 0))).toBe(path.resolve("rel"))
  })

  it("publish renames the pending file over the target; discard removes it", () => {
    const dir = tmp()
    const target = path.join(dir, "out.txt")
    fs.writeFileSync(target, "old")
    const first = { pending: OutputCommit.pendingPath(target, 0), target }
    const second = { pending: OutputCommit.pendingPath(target, 1), target }
    fs.writeFileSync(first.pending, "first")
    fs.writeFileSync(second.pending, "second")
    expect(OutputCommit.publish(second)).toBeUndefined()
    OutputCommit.discard(first)
    expect(fs.readdirSync(dir)).toEqual(["out.txt"])
    expect(fs.readFileSync(target, "utf8")).toBe("second")
    expect(OutputCommit.publish(first)).toMatch(/^Could not publish the output .*out\.txt/)
  })

  it("renames or removes nothing but an attempt's pending file of the named target, in its directory", () => {
    const dir = tmp()
    const victim = path.join(dir, "precious.txt")
    fs.writeFileSync(victim, "keep")
    expect(OutputCommit.publish({ pending: victim, target: path.join(dir, "other.txt") })).toMatch(/^Refused/)
    OutputCommit.discard({ pending: victim, target: path.join(dir, "other.txt") })
    expect(fs.readFileSync(victim, "utf8")).toBe("keep")
    const pending = OutputCommit.pendingPath(path.join(dir, "a.txt"), 0)
    expect(OutputCommit.isPending({ pending, target: path.join(dir, "a.txt") })).toBe(true)
    expect(OutputCommit.isPending({ pending, target: path.join(dir, "b.txt") })).toBe(false)
    expect(OutputCommit.isPending({ pending, target: path.join(dir, "sub", "a.txt") })).toBe(false)
    expect(OutputCommit.isPending({ pending: path.relative(process.cwd(), pending), target: path.join(dir, "a.txt") })).toBe(false)
  })
})

describe("sweeping a settled stage's leftover attempts", () => {
  it("removes the pending files of the published targets only: not another target's, not other hidden files", () => {
    const dir = tmp()
    const files = [
      "part-0.jsonl", ".part-0.jsonl.zephyr-a0-0123abcd", ".part-0.jsonl.zephyr-a2-89abcdef",
      "part-1.jsonl", ".part-1.jsonl.zephyr-a0-deadbeef",
      ".other.jsonl.zephyr-a0-01234567", ".part-0.jsonl.swp", ".part-0.jsonl.zephyr-a0-XYZ"
    ]
    for (const f of files) fs.writeFileSync(path.join(dir, f), "x")
    OutputCommit.sweep(dir, new Set(["part-0.jsonl", "part-1.jsonl"]))
    expect(fs.readdirSync(dir).sort()).toEqual([".other.jsonl.zephyr-a0-01234567", ".part-0.jsonl.swp", ".part-0.jsonl.zephyr-a0-XYZ", "part-0.jsonl", "part-1.jsonl"])
  })

  it("a directory that is gone is nothing to sweep", () => {
    expect(() => OutputCommit.sweep(path.join(tmp(), "gone"), new Set(["part-0.jsonl"]))).not.toThrow()
  })
})
