import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { expandBraces, glob } from "../../runtime/FileGlob.ts"

describe("FileGlob", () => {
  let dir: string
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-glob-"))
    for (const f of ["a.jsonl", "b.jsonl", "c.txt", ".hidden.jsonl", "sub/d.jsonl", "sub/deep/e.jsonl", "sub/deep/f.parquet", "x[1].txt"]) {
      fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true })
      fs.writeFileSync(path.join(dir, f), "")
    }
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it("expands braces, nested too", () => {
    expect(expandBraces("a/{b,c}/{d,e{f,g}}.x")).toEqual(["a/b/d.x", "a/b/ef.x", "a/b/eg.x", "a/c/d.x", "a/c/ef.x", "a/c/eg.x"])
    expect(expandBraces("plain")).toEqual(["plain"])
  })
  it("matches * within a directory, skipping hidden files, sorted", () => {
    expect(glob(`${dir}/*.jsonl`)).toEqual([`${dir}/a.jsonl`, `${dir}/b.jsonl`])
  })
  it("matches ** at any depth, including none", () => {
    expect(glob(`${dir}/**/*.jsonl`)).toEqual([`${dir}/a.jsonl`, `${dir}/b.jsonl`, `${dir}/sub/d.jsonl`, `${dir}/sub/deep/e.jsonl`])
  })
  it("matches every (non-hidden) file below a trailing **", () => {
    expect(glob(`${dir}/sub/**`)).toEqual([`${dir}/sub/d.jsonl`, `${dir}/sub/deep/e.jsonl`, `${dir}/sub/deep/f.parquet`])
    expect(glob(`${dir}/**`)).toHaveLength(7)
  })
  it("matches {a,b} alternatives and ? and character classes", () => {
    expect(glob(`${dir}/**/*.{txt,parquet}`)).toEqual([`${dir}/c.txt`, `${dir}/sub/deep/f.parquet`, `${dir}/x[1].txt`])
    expect(glob(`${dir}/[ab].jsonl`)).toEqual([`${dir}/a.jsonl`, `${dir}/b.jsonl`])
    expect(glob(`${dir}/?.txt`)).toEqual([`${dir}/c.txt`])
  })
  it("returns a plain path that exists, and nothing for one that does not", () => {
    expect(glob(`${dir}/c.txt`)).toEqual([`${dir}/c.txt`])
    expect(glob(`${dir}/zzz.txt`)).toEqual([])
    expect(glob(`${dir}/nope/**/*.txt`)).toEqual([])
  })
  it("keeps relative patterns relative to the working directory", () => {
    expect(glob("examples/data/text/*.txt", process.cwd())).toContain("examples/data/text/a-river.txt")
  })
})
