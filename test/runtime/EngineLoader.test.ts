import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { useTempDirs } from "../TempDirs.ts"

const exec = promisify(execFile)
const root = path.resolve(import.meta.dirname, "../..")
const dist = path.join(root, "dist")
const tempDir = useTempDirs("zephyr-engine-loader-")

/** Runs an ES module script in a fresh Node (with `flags`), the module cache in `cache`. */
const node = (cache: string, script: string, flags: ReadonlyArray<string> = []) =>
  exec(process.execPath, [...flags, "--input-type=module", "-e", script], { cwd: root, encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache } })

const privateCache = () => {
  const dir = tempDir()
  fs.chmodSync(dir, 0o700)
  return dir
}

const engineCaches = (cache: string) =>
  fs.readdirSync(cache).filter((f) => /^engine-[0-9a-f]{8}-[0-9a-f]{16}\.v8-code-cache$/.test(f)).sort()
    .map((f) => ({ f, mtime: fs.statSync(path.join(cache, f)).mtimeMs, size: fs.statSync(path.join(cache, f)).size }))

const importZephyr = `const z = await import(${JSON.stringify(path.join(dist, "index.js"))}); if (typeof z.Dataset.fromList !== "function") process.exit(3)`

describe("the engine bundle (dist/engine.cjs) and its facades", () => {
  it("is loaded once per process: `import \"zephyr\"`, the CLI and the worker programs share one engine", async () => {
    const { stdout } = await node(privateCache(), `
      const url = (f) => ${JSON.stringify(dist)} + "/" + f
      const zephyr = await import("zephyr")
      const cli = await import(url("cli.js"))
      const command = await import(url("worker-command.js"))
      const engine = globalThis[Symbol.for("zephyr/EngineLoader/engine")]
      const index = await engine.index()
      console.log(JSON.stringify({
        zephyrIsFacade: import.meta.resolve("zephyr") === "file://" + url("index.js"),
        sameDataset: zephyr.Dataset === index.Dataset,
        sameMain: cli.main === (await engine.cli()).main,
        sameWorker: command.startFromCommandLine === (await engine.workerCommand()).startFromCommandLine
      }))`)
    expect(JSON.parse(stdout)).toEqual({ zephyrIsFacade: true, sameDataset: true, sameMain: true, sameWorker: true })
  }, 60_000)

  it("the first process writes the engine's code cache; the next starts from it and leaves it as it is", async () => {
    const cache = privateCache()
    await node(cache, importZephyr)
    const written = engineCaches(cache)
    expect(written).toHaveLength(1)
    expect(written[0]!.size).toBeGreaterThan(100_000)
    await node(cache, importZephyr)
    expect(engineCaches(cache)).toEqual(written)
  }, 60_000)

  it("a process that ran clearly more of the engine than its cache holds writes the cache again, with that code; one that ran less leaves it", async () => {
    const cache = privateCache()
    // Running a pipeline (in this process) runs the compiler, the runtime and a shuffle, which importing "zephyr" alone does not.
    const running = `${importZephyr}; const r = await z.Zephyr.run(z.Dataset.fromList([1, 2, 3]).groupBy((x) => x % 2, (k, xs) => ({ k, n: [...xs].length })), { backend: "in-process" }); if (r.results.length !== 2) process.exit(5)`
    await node(cache, importZephyr)
    const [small] = engineCaches(cache)
    await node(cache, running)
    const [grown] = engineCaches(cache)
    expect(grown!.f).toBe(small!.f)
    expect(grown!.size).toBeGreaterThan(small!.size * 1.1)
    // The cache now holds what both ran: neither writes it again.
    await node(cache, running)
    await node(cache, importZephyr)
    expect(engineCaches(cache)).toEqual([grown])
  }, 60_000)

  it("a process with other V8 flags (a worker's heap) keeps a cache of its own, beside the command's", async () => {
    const cache = privateCache()
    await node(cache, importZephyr)
    const [command] = engineCaches(cache)
    await node(cache, importZephyr, ["--max-old-space-size=300"])
    const both = engineCaches(cache)
    expect(both).toHaveLength(2)
    expect(both).toContainEqual(command)
    // Neither replaces the other: each is accepted by its own kind of process.
    await node(cache, importZephyr)
    await node(cache, importZephyr, ["--max-old-space-size=300"])
    expect(engineCaches(cache)).toEqual(both)
  }, 60_000)

  it("a worker that sets its heap's growth once the engine has loaded still saves a cache its next start accepts", async () => {
    const cache = privateCache()
    // As a worker: the heap's sizes settled, the engine loaded, then the growth set (RemoteWorker.run); the cache is saved at exit.
    const flagsModule = JSON.stringify(path.join(dist, "runtime-v8-flags.js"))
    const worker = `const flags = await import(${flagsModule}); flags.settleHeapSizes(); ${importZephyr}; if (flags.applyHeapGrowth({ ZEPHYR_HEAP_GROWING_PERCENT: "300" }).length !== 1) process.exit(4)`
    await node(cache, worker, ["--max-old-space-size=300"])
    const written = engineCaches(cache)
    expect(written).toHaveLength(1)
    // Made under the growth, it would be rejected here and written again.
    await node(cache, worker, ["--max-old-space-size=300"])
    expect(engineCaches(cache)).toEqual(written)
  }, 60_000)

  it("two installs of the engine (two projects, two checkouts) keep a cache each: neither removes the other's", async () => {
    const cache = privateCache()
    const other = tempDir()
    for (const entry of ["bin", "package.json", "dist"]) fs.cpSync(path.join(root, entry), path.join(other, entry), { recursive: true })
    fs.symlinkSync(path.join(root, "node_modules"), path.join(other, "node_modules"))
    const importOther = importZephyr.replace(JSON.stringify(path.join(dist, "index.js")), JSON.stringify(path.join(other, "dist", "index.js")))
    await node(cache, importZephyr)
    await node(cache, importOther)
    const both = engineCaches(cache)
    expect(both).toHaveLength(2)
    // Each starts from its own, as it is: nothing is written again.
    await node(cache, importZephyr)
    await node(cache, importOther)
    expect(engineCaches(cache)).toEqual(both)
  }, 60_000)

  it("a damaged cache is replaced and the process is unaffected; older versions' caches are removed", async () => {
    const cache = privateCache()
    await node(cache, importZephyr)
    const [written] = engineCaches(cache)
    fs.writeFileSync(path.join(cache, written!.f), "not a code cache")
    const flags = written!.f.split("-")[1]!
    const older = [`engine-${flags}-0123456789abcdef.v8-code-cache`, "engine-0123456789abcdef01234567.v8-code-cache"]
    const otherFlags = `engine-${flags === "00000000" ? "11111111" : "00000000"}-0123456789abcdef.v8-code-cache`
    for (const f of [...older, otherFlags]) fs.writeFileSync(path.join(cache, f), "an older version's cache")
    await node(cache, importZephyr)
    expect(fs.statSync(path.join(cache, written!.f)).size).toBeGreaterThan(100_000)
    for (const f of older) expect(fs.existsSync(path.join(cache, f)), f).toBe(false)
    expect(fs.existsSync(path.join(cache, otherFlags))).toBe(true)
  }, 60_000)

  // A copy of the package whose dist/ lacks engine.cjs (a build interrupted, a file removed),
  // or holds one an older build wrote (not wrapped as EngineLoader compiles it).
  const breakages: Array<[string, (engine: string) => void]> = [
    ["without the bundle", (engine) => fs.rmSync(engine)],
    ["whose bundle an older build wrote", (engine) => fs.writeFileSync(engine, fs.readFileSync(engine, "latin1").replace(/^\(function \(exports, require, module, __filename, __dirname\) \{ /, ""), "latin1")]
  ]
  for (const [name, breakBuild] of breakages) {
    it(`a build ${name} is refused with a sentence that says to build, not a stack`, async () => {
      const copy = tempDir()
      for (const entry of ["bin", "package.json", "dist", "examples"]) fs.cpSync(path.join(root, entry), path.join(copy, entry), { recursive: true })
      breakBuild(path.join(copy, "dist", "engine.cjs"))
      fs.symlinkSync(path.join(root, "node_modules"), path.join(copy, "node_modules"))
      for (const args of [["compile", "examples/wordcount.ts"], ["worker", "--coordinator", "127.0.0.1:1"]]) {
        const failed = await exec(process.execPath, ["bin/zephyr.js", ...args], { cwd: copy, encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: privateCache() } }).then(() => undefined, (e: { code: number; stderr: string }) => e)
        expect(failed?.code, args.join(" ")).toBe(1)
        expect(failed?.stderr.trim(), args.join(" ")).toBe("zephyr: the engine is not built (dist/ is missing or incomplete): run `npm run build` (npm ci does it).")
      }
    }, 60_000)
  }

  it("without a usable cache directory the engine loads as well, and nothing is written", async () => {
    const open = tempDir()
    fs.chmodSync(open, 0o777)
    const { stderr } = await node(open, importZephyr)
    expect(stderr).toContain("not caching")
    expect(fs.readdirSync(open)).toEqual([])
  }, 60_000)
})
