import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { promisify } from "node:util"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as ModuleCache from "../../compiler/ModuleCache.ts"

const exec = promisify(execFile)

// Modules under the package's own directory can `import "zephyr"` (a package may import itself).
let work: string
let cache: string
beforeEach(() => {
  fs.mkdirSync("out", { recursive: true })
  work = fs.mkdtempSync(path.resolve("out", "module-cache-"))
  cache = path.join(work, "cache")
})
afterEach(() => fs.rmSync(work, { recursive: true, force: true }))

const writeModule = (values: string) => {
  fs.writeFileSync(path.join(work, "values.ts"), `export const values: Array<number> = ${values}\n`)
  fs.writeFileSync(path.join(work, "pipeline.ts"), [
    `import { Dataset } from "zephyr"`,
    `import { values } from "./values.ts"`,
    `export default Dataset.fromList(values).map((n) => n * 10)`
  ].join("\n") + "\n")
}

/** Runs the module in a fresh CLI process; returns its results and the cached module's file name. */
const run = async (env: Record<string, string> = {}) => {
  const { stdout } = await exec(process.execPath, ["bin/zephyr.js", "run", path.join(work, "pipeline.ts"), "--backend", "in-process", "--print-results", "--no-progress", "--chunk-dir", path.join(work, "chunks")], {
    encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache, ...env }
  })
  return { results: stdout.trim().split("\n").map(Number), compiled: compiledFiles() }
}

const compiledFiles = (): Array<string> => (fs.existsSync(cache) ? fs.readdirSync(cache).filter((f) => f.endsWith(".mjs")).sort() : [])

describe("ModuleCache", () => {
  it("writeAtomic replaces a file whole, and a write that fails leaves no temporary file behind", () => {
    fs.mkdirSync(work, { recursive: true })
    const file = path.join(work, "entry.json")
    ModuleCache.writeAtomic(file, "one")
    ModuleCache.writeAtomic(file, "two")
    expect(fs.readFileSync(file, "utf8")).toBe("two")
    // A directory in the way: the rename fails after the temporary file was written.
    const blocked = path.join(work, "blocked")
    fs.mkdirSync(path.join(blocked, "inside"), { recursive: true })
    expect(() => ModuleCache.writeAtomic(blocked, "three")).toThrow()
    expect(fs.readdirSync(work).sort()).toEqual(["blocked", "entry.json"])
  })

  it("a second process reuses the compiled module; a changed local import is compiled again", async () => {
    writeModule("[1, 2, 3]")
    const first = await run()
    expect(first.results).toEqual([10, 20, 30])
    expect(first.compiled).toHaveLength(1)
    expect(fs.statSync(cache).mode & 0o777).toBe(0o700)

    const second = await run()
    expect(second.results).toEqual([10, 20, 30])
    expect(second.compiled).toEqual(first.compiled) // no new compile

    writeModule("[4, 5]")
    const third = await run()
    expect(third.results).toEqual([40, 50])
    expect(third.compiled).toHaveLength(1) // the stale module is gone
    expect(third.compiled).not.toEqual(first.compiled)
  })

  it("recompiles when the cached module file is missing", async () => {
    writeModule("[7]")
    const first = await run()
    fs.rmSync(path.join(cache, first.compiled[0]!))
    const again = await run()
    expect(again.results).toEqual([70])
    expect(again.compiled).toHaveLength(1)
    expect(again.compiled).not.toEqual(first.compiled)
  })

  it("never uses a cache directory that others can write to, and says so once", async () => {
    writeModule("[1]")
    fs.mkdirSync(cache, { recursive: true })
    fs.chmodSync(cache, 0o777)
    const { stdout, stderr } = await exec(process.execPath, ["bin/zephyr.js", "run", path.join(work, "pipeline.ts"), "--workers", "2", "--print-results", "--no-progress", "--chunk-dir", path.join(work, "chunks")], {
      encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache }
    })
    expect(stdout.trim()).toBe("10")
    expect(compiledFiles()).toEqual([]) // compiled in a private temp dir instead
    // Not from the workers nor the checks' thread, which meet the same directory.
    const warnings = stderr.split("\n").filter((l) => l.includes("not caching"))
    expect(warnings).toEqual([`zephyr: not caching compiled modules or checks: the cache directory ${cache} is open to its group (mode 777). Every command compiles and checks the module again. Make it private (chmod 700 ${cache}, owned by you) or choose another with ZEPHYR_MODULE_CACHE_DIR.`])
  })

  it("says why a directory is not private enough to run code from", () => {
    const dir = (name: string) => path.join(work, name)
    fs.mkdirSync(dir("others"), { mode: 0o700 })
    fs.chmodSync(dir("others"), 0o703)
    fs.writeFileSync(dir("file"), "")
    fs.symlinkSync(dir("others"), dir("link"))
    expect(ModuleCache.privateDirectory(dir("fresh"))).toBe(dir("fresh"))
    expect(fs.statSync(dir("fresh")).mode & 0o777).toBe(0o700)
    expect(ModuleCache.privateDirectory(dir("others"))).toEqual({ why: "is open to others (mode 703)" })
    expect(ModuleCache.privateDirectory(dir("link"))).toEqual({ why: "is a symbolic link" })
    expect(ModuleCache.privateDirectory(dir("file"))).toEqual({ why: "cannot be used (EEXIST)" })
  })

  it("keeps stack traces and recorded source lines on the original file when loaded from the cache", async () => {
    writeModule("[1]")
    const explain = async () => (await exec(process.execPath, ["bin/zephyr.js", "compile", path.join(work, "pipeline.ts"), "--explain", "--format", "json"], {
      encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache }
    })).stdout
    const compiled = await explain()
    const cached = await explain()
    expect(compiledFiles()).toHaveLength(1)
    expect(cached).toBe(compiled)
    const sources = [...cached.matchAll(/"file": "([^"]+)",\s*"line": (\d+)/g)].map((m) => `${m[1]}:${m[2]}`)
    expect(sources).toContain(`${path.relative(process.cwd(), path.join(work, "pipeline.ts"))}:3`)
  })
})

describe("a pipeline module that imports Effect", () => {
  it("gets the engine's own Effect, for the package and its subpaths, instead of Effect's ES modules", async () => {
    fs.writeFileSync(path.join(work, "pipeline.ts"), [
      `import { Effect, Option } from "effect"`,
      `import * as Schema from "effect/Schema"`,
      `import { Dataset } from "zephyr"`,
      `const Row = Schema.Struct({ n: Schema.NumberFromString })`,
      `export default Dataset.fromList(["1", "2"]).mapEffect((s) => Effect.succeed(Option.getOrElse(Option.some(Schema.decodeUnknownSync(Row)({ n: s }).n), () => 0) * 10))`
    ].join("\n") + "\n")
    expect((await run()).results).toEqual([10, 20])
    const compiled = fs.readFileSync(path.join(cache, compiledFiles()[0]!), "utf8")
    expect(compiled).toContain(`from "${pathToFileURL(path.resolve("dist", "effect.js")).href}"`)
    expect(compiled).not.toContain("node_modules/effect")
  })

  it("shares one Effect with the engine: the namespaces it imports are the engine's own objects", async () => {
    fs.writeFileSync(path.join(work, "pipeline.ts"), [
      `import { Effect } from "effect"`,
      `import * as Schema from "effect/Schema"`,
      `import { Dataset } from "zephyr"`,
      `const engine = (globalThis as any)[Symbol.for("zephyr/EngineLoader/engine")]`,
      `const library = await engine.effect()`,
      `export default Dataset.fromList([Number(library.Effect === Effect), Number(library.Schema.Struct === Schema.Struct)])`
    ].join("\n") + "\n")
    expect((await run()).results).toEqual([1, 1])
  })
})

describe("ModuleCache, with processes compiling at once", () => {
  it("a module a process wrote but has not imported yet survives another process publishing its own compile", () => {
    fs.mkdirSync(cache, { recursive: true })
    const key = ModuleCache.keyOf(path.join(work, "pipeline.ts"))
    const code = new TextEncoder().encode("export default 1\n")
    // Process A writes its compile and is about to import it; process B compiles, writes and publishes.
    const mine = ModuleCache.outputFile(cache, key)
    expect(ModuleCache.writeModule(mine, code)).toBe(true)
    const theirs = ModuleCache.outputFile(cache, key)
    ModuleCache.writeModule(theirs, code)
    ModuleCache.publish(cache, key, theirs, [])
    expect(fs.existsSync(mine)).toBe(true)
    // A publishes after its import: B's module, named by the entry before, is removed.
    ModuleCache.publish(cache, key, mine, [])
    expect(fs.existsSync(theirs)).toBe(false)
    expect(ModuleCache.lookup(cache, key)?.module).toBe(mine)
  })
})

describe("ModuleCache pruning", () => {
  const DAY = 24 * 3600 * 1000
  const age = (file: string, ms: number, now: number) => fs.utimesSync(file, (now - ms) / 1000, (now - ms) / 1000)
  const put = (name: string, ms: number, now: number) => {
    fs.mkdirSync(cache, { recursive: true, mode: 0o700 })
    fs.writeFileSync(path.join(cache, name), name)
    age(path.join(cache, name), ms, now)
  }
  const names = () => fs.readdirSync(cache).filter((f) => f !== "pruned").sort()

  it("removes the files nobody used for 30 days, at most once a day", () => {
    const now = Date.now()
    put("old.json", 31 * DAY, now)
    put("old-1234.mjs", 40 * DAY, now)
    put("engine-00000000-0000000000000000.v8-code-cache", 60 * DAY, now)
    put("recent.diagnostics.json", 28 * DAY, now)
    fs.mkdirSync(path.join(cache, "a-directory"))
    age(path.join(cache, "a-directory"), 90 * DAY, now)
    expect(ModuleCache.pruneDaily(cache, now)).toBe(3)
    expect(names()).toEqual(["a-directory", "recent.diagnostics.json"])
    // The same day: nothing more, even what has grown old since.
    put("stale.json", 45 * DAY, now)
    expect(ModuleCache.pruneDaily(cache, now + DAY / 2)).toBe(0)
    expect(names()).toContain("stale.json")
    // A day later it runs again.
    expect(ModuleCache.pruneDaily(cache, now + DAY + 1)).toBe(1)
    expect(names()).toEqual(["a-directory", "recent.diagnostics.json"])
  })

  it("keeps what is in use however long ago it was written: a lookup marks the entry and its module used", async () => {
    writeModule("[1, 2]")
    const first = await run()
    expect(first.compiled).toHaveLength(1)
    const now = Date.now()
    for (const f of fs.readdirSync(cache)) age(path.join(cache, f), 40 * DAY, now)
    const key = ModuleCache.keyOf(path.join(work, "pipeline.ts"))
    expect(ModuleCache.lookup(cache, key)?.module).toBe(path.join(cache, first.compiled[0]!))
    ModuleCache.pruneDaily(cache, now)
    // The lookup marked the entry and its module used: they stay, and the next run uses them.
    expect(names().filter((f) => f.startsWith(key))).toEqual([`${key}.json`, first.compiled[0]!].sort())
    expect((await run()).compiled).toEqual(first.compiled)
  }, 60_000)

  it("touches a used file at most once a day", () => {
    const now = Date.now()
    put("entry.json", 2 * 3600 * 1000, now)
    const before = fs.statSync(path.join(cache, "entry.json")).mtimeMs
    ModuleCache.markUsed(path.join(cache, "entry.json"), now)
    expect(fs.statSync(path.join(cache, "entry.json")).mtimeMs).toBe(before)
    age(path.join(cache, "entry.json"), 2 * DAY, now)
    ModuleCache.markUsed(path.join(cache, "entry.json"), now)
    expect(Math.abs(fs.statSync(path.join(cache, "entry.json")).mtimeMs - now)).toBeLessThan(1_000)
  })
})
