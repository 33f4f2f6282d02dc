import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as ChunkDir from "../../../runtime/storage/ChunkDir.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tempDir = useTempDirs("zephyr-chunkdir-")
const uid = process.getuid?.()

// The default lives under os.tmpdir(), which follows $TMPDIR: each test gets its own.
let saved: { TMPDIR: string | undefined; ZEPHYR_CHUNK_DIR: string | undefined }
let tmp: string
beforeEach(() => {
  saved = { TMPDIR: process.env.TMPDIR, ZEPHYR_CHUNK_DIR: process.env.ZEPHYR_CHUNK_DIR }
  tmp = tempDir()
  process.env.TMPDIR = tmp
  delete process.env.ZEPHYR_CHUNK_DIR
})
afterEach(() => {
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v
})

describe.runIf(uid !== undefined)("the default chunk directory", () => {
  it("is <tmp>/zephyr-<uid>/chunks, created with mode 0700", () => {
    const dir = ChunkDir.defaultPath()
    expect(dir).toBe(path.join(tmp, `zephyr-${uid}`, "chunks"))
    expect(ChunkDir.ensure(dir)).toBe(dir)
    expect(fs.statSync(path.join(tmp, `zephyr-${uid}`)).mode & 0o777).toBe(0o700)
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700)
    expect(ChunkDir.ensure(dir)).toBe(dir) // and again, as it is
  })

  it("is $ZEPHYR_CHUNK_DIR when set", () => {
    process.env.ZEPHYR_CHUNK_DIR = path.join(tmp, "mine")
    expect(ChunkDir.defaultPath()).toBe(path.join(tmp, "mine"))
  })

  it.each([
    ["group-writable", (d: string) => { fs.mkdirSync(d); fs.chmodSync(d, 0o770) }, /writable by its group \(mode 770\)/],
    ["world-writable", (d: string) => { fs.mkdirSync(d); fs.chmodSync(d, 0o777) }, /writable by everyone \(mode 777\)/],
    ["a symbolic link", (d: string) => { fs.mkdirSync(d + "-real", { mode: 0o700 }); fs.symlinkSync(d + "-real", d) }, /it is a symbolic link/],
    ["a file", (d: string) => fs.writeFileSync(d, ""), /it is not a directory/]
  ])("is refused when <tmp>/zephyr-<uid> is %s", (_name, make, problem) => {
    make(path.join(tmp, `zephyr-${uid}`))
    expect(() => ChunkDir.ensure(ChunkDir.defaultPath())).toThrow(expect.objectContaining({ _tag: "ZephyrInfraError", reason: "unsafe-chunk-dir", message: expect.stringMatching(problem) }))
    expect(fs.existsSync(ChunkDir.defaultPath())).toBe(false)
  })

  it("is refused when its chunks folder is group-writable", () => {
    fs.mkdirSync(path.join(tmp, `zephyr-${uid}`, "chunks"), { recursive: true, mode: 0o700 })
    fs.chmodSync(path.join(tmp, `zephyr-${uid}`, "chunks"), 0o730)
    expect(() => ChunkDir.ensure(ChunkDir.defaultPath())).toThrow(/Refusing to use the chunk directory .*chunks: it is writable by its group/)
  })

  it.runIf(uid === 0)("is refused when another user owns it", () => {
    const root = path.join(tmp, `zephyr-${uid}`)
    fs.mkdirSync(root, { mode: 0o700 })
    fs.chownSync(root, 12345, 12345)
    expect(() => ChunkDir.ensure(ChunkDir.defaultPath())).toThrow(/it is owned by uid 12345, not by you \(uid 0\)/)
  })
})

describe("a named chunk directory", () => {
  it("is created (0700) when missing and used as it is otherwise", () => {
    const named = path.join(tmp, "a", "b")
    expect(ChunkDir.ensure(named)).toBe(named)
    expect(fs.statSync(named).mode & 0o777).toBe(0o700)
    fs.chmodSync(named, 0o777)
    expect(ChunkDir.ensure(named)).toBe(named)
  })
})
