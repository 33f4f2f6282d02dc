import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { countSourceShards, glob, globAsync, literalPrefix, objectGlob } from "../../runtime/FileGlob.ts"
import { ticksDuring } from "../EventLoopTicks.ts"
import { useTempDirs } from "../TempDirs.ts"

const tmp = useTempDirs("zephyr-glob-")
const touch = (file: string) => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, "")
}

describe("FileGlob", () => {
  let dir: string
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-glob-"))
    for (const f of ["a.jsonl", "b.jsonl", "c.txt", ".hidden.jsonl", "sub/d.jsonl", "sub/deep/e.jsonl", "sub/deep/f.parquet", "x[1].txt", "odd/data (1)+@!.jsonl", "odd/p|q.jsonl"]) touch(path.join(dir, f))
  })
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it("matches * within a directory, skipping hidden files, sorted", () => {
    expect(glob(`${dir}/*.jsonl`)).toEqual([`${dir}/a.jsonl`, `${dir}/b.jsonl`])
    expect(glob(`${dir}/.h*`)).toEqual([`${dir}/.hidden.jsonl`])
  })
  it("matches ** at any depth, including none", () => {
    expect(glob(`${dir}/**/*.jsonl`)).toEqual([`${dir}/a.jsonl`, `${dir}/b.jsonl`, `${dir}/odd/data (1)+@!.jsonl`, `${dir}/odd/p|q.jsonl`, `${dir}/sub/d.jsonl`, `${dir}/sub/deep/e.jsonl`])
  })
  it("matches every (non-hidden) file below a trailing **", () => {
    expect(glob(`${dir}/sub/**`)).toEqual([`${dir}/sub/d.jsonl`, `${dir}/sub/deep/e.jsonl`, `${dir}/sub/deep/f.parquet`])
    expect(glob(`${dir}/**`)).toHaveLength(9)
  })
  it("matches {a,b} alternatives (nested too) and ? and character classes; other characters are literal", () => {
    expect(glob(`${dir}/**/*.{txt,parquet}`)).toEqual([`${dir}/c.txt`, `${dir}/sub/deep/f.parquet`, `${dir}/x[1].txt`])
    expect(glob(`${dir}/{sub/{d,deep/e},a}.jsonl`)).toEqual([`${dir}/a.jsonl`, `${dir}/sub/d.jsonl`, `${dir}/sub/deep/e.jsonl`])
    expect(glob(`${dir}/[ab].jsonl`)).toEqual([`${dir}/a.jsonl`, `${dir}/b.jsonl`])
    expect(glob(`${dir}/[!a].jsonl`)).toEqual([`${dir}/b.jsonl`])
    expect(glob(`${dir}/?.txt`)).toEqual([`${dir}/c.txt`])
    expect(glob(`${dir}/x\\[1\\].txt`)).toEqual([`${dir}/x[1].txt`])
    expect(glob(`${dir}/*/data (1)+@!.jsonl`)).toEqual([`${dir}/odd/data (1)+@!.jsonl`])
    expect(glob(`${dir}/*/p|q.*`)).toEqual([`${dir}/odd/p|q.jsonl`])
  })
  it("returns a plain path that exists, and nothing for one that does not", () => {
    expect(glob(`${dir}/c.txt`)).toEqual([`${dir}/c.txt`])
    expect(glob(`${dir}/zzz.txt`)).toEqual([])
    expect(glob(`${dir}/nope/**/*.txt`)).toEqual([])
    expect(glob(`${dir}/sub`)).toEqual([]) // a directory is not a file
  })
  it("keeps relative patterns relative to the working directory", () => {
    expect(glob("examples/data/text/*.txt", process.cwd())).toContain("examples/data/text/a-river.txt")
    expect(glob("../?.txt", path.join(dir, "sub"))).toEqual(["../c.txt"])
    expect(glob("../*/d.jsonl", path.join(dir, "sub"))).toEqual(["d.jsonl"])
  })

  it("follows symbolic links but lists each real file once: a link loop does not multiply a file", async () => {
    const root = tmp()
    for (const f of ["data/a.jsonl", "data/sub/b.jsonl", "other/o.jsonl"]) touch(path.join(root, f))
    fs.symlinkSync("..", path.join(root, "data/sub/loop")) // back up to data/
    fs.symlinkSync("../other", path.join(root, "data/other")) // a directory elsewhere: followed
    fs.symlinkSync("a.jsonl", path.join(root, "data/z-alias.jsonl")) // the same file again
    fs.symlinkSync("missing.jsonl", path.join(root, "data/broken.jsonl"))
    const expected = ["data/a.jsonl", "data/other/o.jsonl", "data/sub/b.jsonl"].map((f) => path.join(root, f))
    expect(glob(`${root}/data/**/*.jsonl`)).toEqual(expected)
    expect(await globAsync(`${root}/data/**/*.jsonl`)).toEqual(expected)
    expect(glob(`${root}/**`)).toEqual(expected) // other/o.jsonl is the file data/other/o.jsonl names
    expect(glob("data/*/*.jsonl", root)).toEqual(["data/other/o.jsonl", "data/sub/b.jsonl"])
    expect(glob(`${root}/data/*.jsonl`)).toEqual([path.join(root, "data/a.jsonl")])
    expect(glob(`${root}/data/z-alias.jsonl`)).toEqual([path.join(root, "data/z-alias.jsonl")]) // named, a link is a file
  })

  it("rejects an invalid pattern with a ZephyrPlanError naming it, not a SyntaxError", async () => {
    for (const pattern of [`${dir}/[z-a].jsonl`, `${dir}/[z-a]/**/*.jsonl`, `${dir}/{a,b.jsonl`]) {
      let error: any
      try { glob(pattern) } catch (e) { error = e }
      expect(error).toMatchObject({ _tag: "ZephyrPlanError", reason: "invalid-glob" })
      expect(error.message).toContain(JSON.stringify(pattern))
      await expect(globAsync(pattern)).rejects.toMatchObject({ _tag: "ZephyrPlanError", reason: "invalid-glob" })
    }
    expect(() => glob(`${dir}/[z-a].jsonl`)).toThrow(/Range out of order/)
  })

  it("lists asynchronously: the event loop keeps turning during a listing, and the list is the synchronous one", async () => {
    const root = tmp()
    for (let d = 0; d < 40; d++) for (let f = 0; f < 10; f++) touch(path.join(root, `d${d}`, `e${d % 4}`, `f${f}.jsonl`))
    const { result, ticks } = await ticksDuring(() => globAsync(`${root}/**/*.jsonl`))
    expect(result).toHaveLength(400)
    expect(result).toEqual(glob(`${root}/**/*.jsonl`))
    expect(ticks).toBeGreaterThan(0)
  })
})

describe("FileGlob over object storage (s3://): the listing's prefix and the key matching", () => {
  it.each<[string, string]>([
    ["data/part-*.jsonl", "data/part-"],
    ["data/**/*.parquet", "data/"],
    ["data/{a,b}/x.txt", "data/"],
    ["data/x?.txt", "data/x"],
    ["data/[ab].txt", "data/"],
    ["**", ""],
    ["logs/2024-01-0\\[1\\]/*.gz", "logs/2024-01-0[1]/"],
    ["exact/key.jsonl", "exact/key.jsonl"]
  ])("lists %s from the prefix %s", (keyPattern, prefix) => {
    expect(literalPrefix(keyPattern)).toBe(prefix)
    expect(objectGlob(`s3://bucket/${keyPattern}`)).toMatchObject({ bucket: "bucket", prefix })
  })

  it("matches keys with the rules of local files: * within a segment, ** across, hidden segments only by a dot, no folder markers", () => {
    const keys = ["data/a.jsonl", "data/b.jsonl", "data/.hidden.jsonl", "data/sub/c.jsonl", "data/sub/", "data/x (1)+@!.jsonl", "database.jsonl", "data/d.txt"]
    const matching = (pattern: string) => keys.filter(objectGlob(`s3://b/${pattern}`).matches)
    expect(matching("data/*.jsonl")).toEqual(["data/a.jsonl", "data/b.jsonl", "data/x (1)+@!.jsonl"])
    expect(matching("data/**/*.jsonl")).toEqual(["data/a.jsonl", "data/b.jsonl", "data/sub/c.jsonl", "data/x (1)+@!.jsonl"])
    expect(matching("data/**")).toEqual(["data/a.jsonl", "data/b.jsonl", "data/sub/c.jsonl", "data/x (1)+@!.jsonl", "data/d.txt"])
    expect(matching("data/.h*")).toEqual(["data/.hidden.jsonl"])
    expect(matching("data/{a,d}.*")).toEqual(["data/a.jsonl", "data/d.txt"])
    expect(matching("data/[!a].jsonl")).toEqual(["data/b.jsonl"])
    // A key without wildcards names one object; the prefix "data" alone must not match "database.jsonl".
    expect(objectGlob("s3://b/data/a.jsonl")).toMatchObject({ exact: "data/a.jsonl" })
    expect(matching("data*")).toEqual(["database.jsonl"])
  })

  it("refuses a pattern without a key, a bucket with wildcards, and a pattern picomatch cannot compile", () => {
    expect(() => objectGlob("s3://bucket")).toThrow(/names a bucket but no key pattern/)
    expect(() => objectGlob("s3://buck*/x")).toThrow(expect.objectContaining({ reason: "invalid-url" }))
    expect(() => objectGlob("s3://b/[z-a].jsonl")).toThrow(expect.objectContaining({ reason: "invalid-glob" }))
  })

  it("does not list object storage while compiling: the count stays unknown, the pattern is checked", () => {
    const source = { kind: "files", id: "o0", method: "readJsonl", pattern: "s3://b/data/*.jsonl", emptyGlobOk: false, source: { file: "pipe.ts", line: 3, column: 1 } } as const
    expect(countSourceShards(source as never)).toBeNull()
    expect(() => countSourceShards({ ...source, pattern: "s3://b/[z-a]" } as never)).toThrow(expect.objectContaining({ reason: "invalid-glob" }))
  })
})
