import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import Module, { createRequire } from "node:module"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { expectNeverRun, localCsvRuns, localShuffleRun } from "../BundleCoverage.ts"
import { useTempDirs } from "../TempDirs.ts"
// @ts-expect-error: a plain JavaScript build script, without type declarations
import * as Build from "../../scripts/build.mjs"

const root = path.resolve(import.meta.dirname, "../..")
const tempDir = useTempDirs("zephyr-build-")

describe("the built engine", () => {
  it("dist/ is exactly what the sources build to, so no test runs stale code", async () => {
    const stale: Array<string> = await Build.staleFiles()
    expect(stale, "run `npm run build`").toEqual([])
  }, 120_000)

  it("`import \"zephyr\"`, the CLI and the worker programs are facades over the one engine bundle", () => {
    expect(createRequire(import.meta.url).resolve("zephyr")).toBe(path.join(root, "dist", "index.js"))
    for (const facade of ["index.js", "cli.js", "worker.js", "worker-command.js"]) {
      const code = fs.readFileSync(path.join(root, "dist", facade), "utf8")
      expect(code, facade).toMatch(facade === "worker.js" ? /^const \{ load \} = await import\("\.\/engine-loader\.js"\)$/m : /^import \{ load \} from "\.\/engine-loader\.js"$/m)
      expect(code.split("\n").length, facade).toBeLessThan(8)
    }
    // A local worker's program sets its heap's size flags back first, before the engine's imports link (RuntimeV8Flags).
    const worker = fs.readFileSync(path.join(root, "dist", "worker.js"), "utf8")
    expect(worker.indexOf("settleHeapSizes()")).toBeGreaterThan(0)
    expect(worker.indexOf("settleHeapSizes()")).toBeLessThan(worker.indexOf("engine-loader.js"))
    // The small entries that run before the engine loads never load it, through none of their chunks.
    const reached = new Set<string>()
    const visit = (file: string) => {
      if (reached.has(file)) return
      reached.add(file)
      const code = fs.readFileSync(file, "utf8")
      for (const m of code.matchAll(/(?:^|;|\n)\s*(?:import|export)\s*(?:[^;"'()]*?\sfrom\s*)?"(\.{1,2}\/[^"]+)"/g)) visit(path.resolve(path.dirname(file), m[1]!))
    }
    for (const early of ["early-checks.js", "early-workers.js", "analysis-thread.js"]) visit(path.join(root, "dist", early))
    expect(reached.size).toBeGreaterThan(3)
    expect([...reached].map((f) => path.relative(root, f))).not.toContain("dist/engine-loader.js")
    for (const file of reached) expect(fs.readFileSync(file, "utf8"), path.relative(root, file)).not.toMatch(/engine\.cjs/)
  })

  it("loads the AWS SDK only when an s3:// path is used: a run on local files (CSV included) never runs the S3 store's module nor loads the SDK's bundle", async () => {
    const { library, command } = await localCsvRuns(tempDir())
    expectNeverRun({ library, command }, ["runtime/storage/S3Store.ts"])
    // The libraries of dist/vendor/ load when a run uses them: CSV's (the format's module
    // reads and writes) in the library's run, which read the CSV file; Parquet's and the AWS
    // SDK's in no process.
    expect(library.vendorsLoaded).toEqual([["csv-parse.cjs", "csv-stringify-sync.cjs"]])
    for (const loaded of command.vendorsLoaded) expect(loaded.filter((f) => !f.startsWith("csv-"))).toEqual([])
  }, 120_000)

  it("a run loads from node_modules only the packages that must stay outside the bundle: not msgpackr (bundled), not zstd's WASM (no zstd written), not a second picomatch", async () => {
    const { library, command } = await localCsvRuns(tempDir())
    const loaded = [...new Set([...library.packagesLoaded, ...command.packagesLoaded].flat())].sort()
    // The TypeScript loader (a pipeline module in TypeScript), and nothing else: a run that reads
    // no blocks (no shuffle) does not load msgpackr's native decoder either.
    for (const outside of loaded) expect(["tsx", "esbuild", "get-tsconfig", "resolve-pkg-maps"], outside).toContain(outside)
  }, 120_000)

  it("loads msgpackr's native string decoder in the process that reads a shuffle's blocks, and in no other", async () => {
    const run = await localShuffleRun(tempDir())
    const native = ["msgpackr-extract", "node-gyp-build-optional-packages", "detect-libc"]
    // The driver and the worker; the worker read the blocks (its reduce), the driver none.
    expect(run.packagesLoaded.length).toBe(2)
    expect(run.packagesLoaded.filter((packages) => native.every((p) => packages.includes(p)))).toHaveLength(1)
    expect(run.packagesLoaded.filter((packages) => native.some((p) => packages.includes(p)))).toHaveLength(1)
  }, 120_000)

  it("keeps the libraries only some runs call out of the engine bundle, in dist/vendor/, each required by the engine", () => {
    const engine = fs.readFileSync(path.join(root, "dist", "engine.cjs"), "latin1")
    for (const { file, specifier } of Build.vendors as ReadonlyArray<{ file: string; specifier: string }>) {
      expect(fs.existsSync(path.join(root, "dist", "vendor", file)), file).toBe(true)
      expect(engine).toContain(`require("./vendor/${file}")`)
      // Not bundled a second time into the engine: no module of the package is in it.
      expect(engine, specifier).not.toContain(`"node_modules/${specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")}/`)
    }
  })

  it("writes the engine wrapped as Node wraps a CommonJS module, keeping the bundle's line numbers, so it is compiled as read", () => {
    const engine = fs.readFileSync(path.join(root, "dist", "engine.cjs"), "latin1")
    const [head, tail] = Build.engineWrapper as [string, string]
    expect(`${head}x${tail}`).toBe(Module.wrap("x"))
    expect(engine.startsWith(head)).toBe(true)
    expect(engine.trimEnd().endsWith(tail)).toBe(true)
    expect(head).not.toContain("\n")
    // The bundle inside is what esbuild makes of Engine.ts, which a function body can hold.
    const body = engine.slice(head.length, engine.trimEnd().length - tail.length)
    expect(() => new Function("exports", "require", "module", "__filename", "__dirname", body)).not.toThrow()
  })

  it("formats no stack while Effect checks its own frames: V8 would index the lines of the whole bundle for it, in every process", () => {
    // A formatter that records every stack formatted through it, as a test runner's would.
    const probe = path.join(tempDir(), "probe.mjs")
    fs.writeFileSync(probe, [
      "const formatted = []",
      "Error.prepareStackTrace = (error, sites) => { formatted.push(sites.map((site) => site.getFunctionName()).join(' ')); return String(error) }",
      `const { Utils } = await import(${JSON.stringify(path.join(root, "dist", "effect.js"))})`,
      "console.log(JSON.stringify({ formatted, internalCall: String(Utils.internalCall) }))"
    ].join("\n"))
    const { formatted, internalCall } = JSON.parse(execFileSync(process.execPath, [probe], { encoding: "utf8" })) as { formatted: Array<string>; internalCall: string }
    expect(formatted.filter((names) => names.includes("effect_internal_function"))).toEqual([])
    // Effect's answer is unchanged: V8 keeps the wrapper's frame, so calls go through the plain wrapper.
    expect(internalCall).toContain("body()")
    expect(internalCall).not.toContain("finally")
  })

  it("the engine's own modules never go through the TypeScript loader", () => {
    for (const file of ["index.js", "cli.js", "engine.cjs"]) {
      expect(fs.readFileSync(path.join(root, "dist", file), "utf8")).not.toMatch(/from\s*"[^"]+\.ts"/)
    }
  })
})
