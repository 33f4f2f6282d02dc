import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterEach, describe, expect, it } from "vitest"
import { useTempDirs } from "../../TempDirs.ts"

const exec = promisify(execFile)
const tempDir = useTempDirs("zephyr-check-cache-")
const probe = path.resolve("test/cli/fixtures/loaded-modules.cjs")

/**
 * Runs `zephyr ARGS` with its own module cache; every process and thread of it (the driver,
 * its analysis thread, its workers) reports when it loads the TypeScript compiler.
 */
const zephyr = async (cache: string, ...args: Array<string>) => {
  const report = path.join(cache, `loaded-${Math.random().toString(36).slice(2)}.jsonl`)
  const env = { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache, ZEPHYR_LOADED_REPORT: report, NODE_OPTIONS: `--require ${probe}` }
  const result = await exec(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8", env }).catch((e: { code: number; stdout: string; stderr: string }) => e)
  const processes = fs.existsSync(report)
    ? fs.readFileSync(report, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { argv: Array<string>; compiler?: true; exit?: true })
    : []
  const of = (program: string) => processes.filter((p) => p.argv[0]?.endsWith(program))
  return {
    ...result,
    code: "code" in result ? result.code : 0,
    /** Whether the driver (its main thread or its analysis thread) loaded the compiler. */
    compilerInDriver: [...of("zephyr.js"), ...of("analysis-thread.js")].some((p) => p.compiler),
    /** Worker processes that ran to their exit, and whether any loaded the compiler. */
    workersExited: of("worker.js").filter((p) => p.exit).length,
    compilerInWorkers: of("worker.js").some((p) => p.compiler)
  }
}

// Scratch modules live inside the project, so that `import "zephyr"` resolves as for a user.
const scratch: Array<string> = []
afterEach(() => { for (const d of scratch.splice(0)) fs.rmSync(d, { recursive: true, force: true }) })
const scratchDir = () => {
  const d = fs.mkdtempSync(path.join("test/compiler/analysis", ".scratch-"))
  scratch.push(d)
  return d
}

describe("the checks' cache", () => {
  it("a module checked once is not checked again: the second compile never loads the compiler", async () => {
    const cache = tempDir()
    const cold = await zephyr(cache, "compile", "examples/wordcount.ts")
    expect(cold.stdout).toContain("no problems")
    expect(cold.compilerInDriver).toBe(true)
    const warm = await zephyr(cache, "compile", "examples/wordcount.ts")
    expect(warm.stdout).toContain("no problems")
    expect(warm.compilerInDriver).toBe(false)
    expect(fs.readdirSync(cache).filter((f) => f.endsWith(".diagnostics.json"))).toHaveLength(1)
  }, 120_000)

  it("a change to the module, or to a local file it imports, checks it again", async () => {
    const cache = tempDir()
    const dir = scratchDir()
    const main = path.join(dir, "main.ts")
    const helper = path.join(dir, "helper.ts")
    fs.writeFileSync(helper, "export const double = (n: number): number => n * 2\n")
    fs.writeFileSync(main, 'import { Dataset } from "zephyr"\nimport { double } from "./helper.ts"\n\nexport default Dataset.fromList([1, 2]).map(double)\n')
    expect((await zephyr(cache, "check", main)).stdout).toContain("no problems")
    expect((await zephyr(cache, "check", main)).compilerInDriver).toBe(false)
    // A type error in a local file the module imports is the module's.
    fs.writeFileSync(helper, "export const double = (n: number): number => `${n}${n}`\n")
    const changed = await zephyr(cache, "check", main)
    expect(changed.compilerInDriver).toBe(true)
    expect(changed.code).toBe(1)
    expect(changed.stdout).toContain(`${helper}:1:46  error  type-error  TS2322`)
    fs.writeFileSync(main, 'import { Dataset } from "zephyr"\n\nexport default Dataset.fromList([1, 2])\n')
    const fixed = await zephyr(cache, "check", main)
    expect(fixed.compilerInDriver).toBe(true)
    expect(fixed.stdout).toContain("no problems")
  }, 180_000)

  it("zephyr --version, worker processes and `run --no-check` never load the compiler; a warm `run` neither", async () => {
    const cache = tempDir()
    const version = await zephyr(cache, "--version")
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
    expect(version.compilerInDriver).toBe(false)
    const unchecked = await zephyr(cache, "run", "examples/count.ts", "--workers", "2", "--no-check", "--no-progress", "--print-results", "--chunk-dir", tempDir())
    expect(unchecked.stdout.trim()).toMatch(/^\d+$/)
    expect(unchecked.compilerInDriver).toBe(false)
    expect(unchecked.workersExited).toBeGreaterThan(0)
    expect(unchecked.compilerInWorkers).toBe(false)
    await zephyr(cache, "check", "examples/count.ts")
    const warm = await zephyr(cache, "run", "examples/count.ts", "--workers", "2", "--no-progress", "--print-results", "--chunk-dir", tempDir())
    expect(warm.stdout).toBe(unchecked.stdout)
    expect(warm.compilerInDriver).toBe(false)
    expect(warm.workersExited).toBeGreaterThan(0)
    expect(warm.compilerInWorkers).toBe(false)
  }, 180_000)
})

describe("explain's advice", () => {
  const entry = (cache: string) => {
    const file = fs.readdirSync(cache).find((f) => f.endsWith(".diagnostics.json"))!
    return JSON.parse(fs.readFileSync(path.join(cache, file), "utf8")) as { findings?: Array<unknown>; facts?: Array<unknown> }
  }
  const fixture = "test/compiler/analysis/fixtures/advice/groupby-without-combiner.ts"

  it("reads the code in the checks' analysis, and keeps what it read in their cache entry", async () => {
    const cache = tempDir()
    const plain = await zephyr(cache, "compile", fixture, "--export", "selfCombining")
    expect(plain.code).toBe(0)
    expect(plain.compilerInDriver).toBe(true)
    expect(Array.isArray(entry(cache).findings)).toBe(true)
    expect(entry(cache).facts!.length).toBeGreaterThan(0)
    // Both are cached: the explain needs no compiler.
    const explained = await zephyr(cache, "compile", fixture, "--export", "selfCombining", "--explain")
    expect(explained.stdout).toContain("groupby-without-combiner in stage 0")
    expect(explained.compilerInDriver).toBe(false)
    // Cached facts serve any export and args: no compiler.
    const again = await zephyr(cache, "compile", fixture, "--export", "total", "--explain")
    expect(again.stdout).toContain("groupby-without-combiner in stage 0")
    expect(again.compilerInDriver).toBe(false)
  }, 180_000)

  it("plan.advice() reads the code without checking it, and never fails for the advice's sake", async () => {
    const cache = tempDir()
    const dir = scratchDir()
    const main = path.join(dir, "main.ts")
    // A type error does not stop the advice.
    fs.writeFileSync(main, 'import { Dataset } from "zephyr"\n\nconst n: number = "one"\n\nexport default Dataset.fromList([{ k: "a", v: n }]).groupBy((r) => r.k, (k, rs) => {\n  let v = 0\n  for (const r of rs) v += r.v\n  return { k, v }\n})\n')
    const script = `import { Pipeline, Zephyr } from "zephyr"\nconst loaded = await Pipeline.load(${JSON.stringify(main)})\nconst advice = await Zephyr.compile(loaded.dataset, { module: loaded.module }).advice()\nprocess.stdout.write(JSON.stringify(advice.map((a) => [a.code, a.line, a.column])))\n`
    const runner = path.join(dir, "advise.ts")
    fs.writeFileSync(runner, script)
    const env = { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache }
    const { stdout } = await exec(process.execPath, ["node_modules/tsx/dist/cli.mjs", runner], { encoding: "utf8", env })
    expect(JSON.parse(stdout)).toEqual([["groupby-without-combiner", 5, 'export default Dataset.fromList([{ k: "a", v: n }]).'.length + 1]])
    expect(entry(cache).findings).toBeUndefined()
    expect(entry(cache).facts!.length).toBe(1)
  }, 120_000)
})

describe("the columns a run reads and the sums it adds in place", () => {
  const module = "test/cli/fixtures/read-columns.ts"

  it("are what the analysis found the functions read, only for the files it read", async () => {
    process.env.ZEPHYR_MODULE_CACHE_DIR = tempDir()
    try {
      const { Pipeline, Zephyr } = await import("zephyr")
      const Check = await import("../../../compiler/analysis/Check.ts")
      const loaded = await Pipeline.load(module)
      const plan = Zephyr.compile(loaded.dataset, { module: loaded.module })
      const load = plan.stages[0]!.ops[0]!.id
      const checks = Check.start([path.resolve(module)])
      const none = { readColumns: {}, combineSums: {} }
      expect(await checks.refinements(plan.plan, plan.module)).toEqual({ readColumns: { [load]: ["key"] }, combineSums: {} })
      // A module built from other text than the analysis read (edited in between): nothing.
      const edit = (m: typeof plan.module) => ({ ...m!, sources: Object.fromEntries(Object.keys(m!.sources!).map((f) => [f, "0".repeat(32)])) })
      expect(await checks.refinements(plan.plan, edit(plan.module))).toEqual(none)
      expect(await checks.refinements(plan.plan, undefined)).toEqual(none)
      // Without the facts (`advice()` asks for no checks, checks alone for no facts): nothing.
      expect(await Check.start([path.resolve(module)], { checks: true, facts: false }).refinements(plan.plan, plan.module)).toEqual(none)

      // The sums a combiner that only sums adds in place (CombineSums), on the same terms.
      const summing = "test/cli/fixtures/combine-sums.ts"
      const totals = await Pipeline.load(summing)
      const totalsPlan = Zephyr.compile(totals.dataset, { module: totals.module })
      const scatter = totalsPlan.stages[0]!.ops.find((op) => op.kind === "groupBy")!.id
      const summingChecks = Check.start([path.resolve(summing)])
      expect(await summingChecks.refinements(totalsPlan.plan, totalsPlan.module)).toEqual({ readColumns: {}, combineSums: { [scatter]: ["n"] } })
      expect(await summingChecks.refinements(totalsPlan.plan, edit(totalsPlan.module))).toEqual(none)
      expect(await Check.start([path.resolve(summing)], { checks: true, facts: false }).refinements(totalsPlan.plan, totalsPlan.module)).toEqual(none)
    } finally {
      delete process.env.ZEPHYR_MODULE_CACHE_DIR
    }
  }, 120_000)
})

