import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { AtomicFile } from "../../../runtime/formats/AtomicFile.ts"
import * as AtomicWrite from "../../../runtime/storage/AtomicWrite.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tempDir = useTempDirs("zephyr-atomic-")

/** The real calls, recorded in order. */
const watched = () => {
  const calls: Array<string> = []
  const io: AtomicWrite.Io = {
    syncFile: (f) => { calls.push(`fsync file ${path.basename(f)}`); AtomicWrite.nodeIo.syncFile(f) },
    rename: (a, b) => { calls.push(`rename ${path.basename(a)} -> ${path.basename(b)}`); AtomicWrite.nodeIo.rename(a, b) },
    link: (a, b) => { calls.push(`link ${path.basename(a)} -> ${path.basename(b)}`); AtomicWrite.nodeIo.link(a, b) },
    syncDir: (d) => { calls.push(`fsync dir ${d}`); AtomicWrite.nodeIo.syncDir(d) }
  }
  const asyncIo: AtomicWrite.AsyncIo = {
    syncFile: async (f) => io.syncFile(f),
    rename: async (a, b) => io.rename(a, b),
    syncDir: async (d) => io.syncDir(d)
  }
  return { calls, io, asyncIo }
}

describe("durable publishing", () => {
  it("publishSync flushes the file, renames it, then flushes its directory", () => {
    const dir = tempDir()
    const { calls, io } = watched()
    fs.writeFileSync(path.join(dir, "x.tmp"), "data")
    AtomicWrite.publishSync(path.join(dir, "x.tmp"), path.join(dir, "x"), io)
    expect(calls).toEqual(["fsync file x.tmp", "rename x.tmp -> x", `fsync dir ${dir}`])
    expect(fs.readFileSync(path.join(dir, "x"), "utf8")).toBe("data")
  })

  it("publishNewSync flushes, links exclusively (EEXIST when taken), then flushes the directory", () => {
    const dir = tempDir()
    const { calls, io } = watched()
    fs.writeFileSync(path.join(dir, "a.tmp"), "first")
    AtomicWrite.publishNewSync(path.join(dir, "a.tmp"), path.join(dir, "a"), io)
    expect(calls).toEqual(["fsync file a.tmp", "link a.tmp -> a", `fsync dir ${dir}`])
    fs.writeFileSync(path.join(dir, "b.tmp"), "second")
    expect(() => AtomicWrite.publishNewSync(path.join(dir, "b.tmp"), path.join(dir, "a"), io)).toThrow(expect.objectContaining({ code: "EEXIST" }))
    expect(fs.readFileSync(path.join(dir, "a"), "utf8")).toBe("first")
  })

  it("a committed output file (AtomicFile) is flushed before its rename and its directory after", async () => {
    const dir = tempDir()
    const { calls, asyncIo } = watched()
    const out = await AtomicFile.open(path.join(dir, "out", "part-0.jsonl"), "none", 0)
    await out.write(new TextEncoder().encode('{"a":1}\n'))
    expect(await out.commit(asyncIo)).toBe(8)
    expect(calls).toHaveLength(3)
    expect(calls[0]).toMatch(/^fsync file \.part-0\.jsonl\.tmp-/)
    expect(calls[1]).toMatch(/^rename \.part-0\.jsonl\.tmp-\w+ -> part-0\.jsonl$/)
    expect(calls[2]).toBe(`fsync dir ${path.join(dir, "out")}`)
    expect(fs.readdirSync(path.join(dir, "out"))).toEqual(["part-0.jsonl"])
  })

  it("the default calls really flush (a file and a directory)", () => {
    const dir = tempDir()
    fs.writeFileSync(path.join(dir, "f"), "x")
    AtomicWrite.nodeIo.syncFile(path.join(dir, "f"))
    AtomicWrite.nodeIo.syncDir(dir)
    AtomicWrite.writeFileSync(path.join(dir, "sub", "g"), "y")
    expect(fs.readdirSync(path.join(dir, "sub"))).toEqual(["g"])
  })
})
