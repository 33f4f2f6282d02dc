import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import * as CompilerCodeCache from "../../../compiler/analysis/CompilerCodeCache.ts"
import { useTempDirs } from "../../TempDirs.ts"

const exec = promisify(execFile)
const tempDir = useTempDirs("zephyr-code-cache-")

const check = (cache: string, file: string) =>
  exec(process.execPath, ["bin/zephyr.js", "check", file], { encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache } })

/** The compiler's caches (not the engine's: see EngineLoader.test.ts). */
const codeCaches = (cache: string) =>
  fs.readdirSync(cache).filter((f) => f.endsWith(".v8-code-cache") && !f.startsWith("engine-")).sort().map((f) => ({ f, mtime: fs.statSync(path.join(cache, f)).mtimeMs }))

describe("the compiler's source text", () => {
  it("is the file's text, read as latin1 only when every byte is ASCII", () => {
    const dir = tempDir()
    const ascii = path.join(dir, "ascii.js"), utf8 = path.join(dir, "utf8.js")
    fs.writeFileSync(ascii, "var a = 'plain';\n")
    // Latin1 would turn each of these into two or more characters.
    const text = "var b = 'café → 🚀';\n"
    fs.writeFileSync(utf8, text)
    expect(CompilerCodeCache.readSource(ascii)).toBe("var a = 'plain';\n")
    expect(CompilerCodeCache.readSource(utf8)).toBe(text)
    expect(CompilerCodeCache.readSource(utf8)).not.toBe(fs.readFileSync(utf8, "latin1"))
  })
})

describe("the compiler's V8 code cache", () => {
  it("the first check writes it for ts-morph and the compiler; the next one starts from it and leaves it as it is", async () => {
    const cache = tempDir()
    fs.chmodSync(cache, 0o700)
    expect((await check(cache, "examples/wordcount.ts")).stdout).toContain("no problems")
    const written = codeCaches(cache)
    expect(written.map((c) => c.f.replace(/-[0-9a-f]{8}-[0-9a-f]{16}\./, ".")).sort()).toEqual(["ts-morph-common.v8-code-cache", "ts-morph.v8-code-cache", "typescript.v8-code-cache"])
    // Another module: the analysis runs again, with the compiler from the cache (accepted, so not written again).
    expect((await check(cache, "examples/join.ts")).stdout).toContain("no problems")
    expect(codeCaches(cache)).toEqual(written)
  }, 120_000)

  it("a new cache replaces the caches of the file's other versions (an upgraded compiler, another Node), not the other files'", async () => {
    const cache = tempDir()
    fs.chmodSync(cache, 0o700)
    const stale = ["typescript-0123456789abcdef01234567.v8-code-cache", "ts-morph-0123456789abcdef01234567.v8-code-cache"]
    for (const f of stale) fs.writeFileSync(path.join(cache, f), "an older version's cache")
    fs.writeFileSync(path.join(cache, "unrelated.json"), "{}")
    expect((await check(cache, "examples/wordcount.ts")).stdout).toContain("no problems")
    const names = codeCaches(cache).map((c) => c.f)
    for (const f of stale) expect(names).not.toContain(f)
    // ts-morph's cache did not take ts-morph-common's for one of its own versions.
    expect(names.map((f) => f.replace(/-[0-9a-f]{8}-[0-9a-f]{16}\./, ".")).sort()).toEqual(["ts-morph-common.v8-code-cache", "ts-morph.v8-code-cache", "typescript.v8-code-cache"])
    expect(fs.existsSync(path.join(cache, "unrelated.json"))).toBe(true)
  }, 120_000)

  it("a cache V8 rejects (another compiler, a damaged file) is replaced, and the check is unaffected", async () => {
    const cache = tempDir()
    fs.chmodSync(cache, 0o700)
    await check(cache, "examples/wordcount.ts")
    const [typescript] = codeCaches(cache).filter((c) => c.f.startsWith("typescript-"))
    fs.writeFileSync(path.join(cache, typescript!.f), "not a code cache")
    expect((await check(cache, "examples/join.ts")).stdout).toContain("no problems")
    expect(fs.statSync(path.join(cache, typescript!.f)).size).toBeGreaterThan(1_000_000)
  }, 120_000)
})
