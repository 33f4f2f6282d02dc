import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { expect } from "vitest"

const exec = promisify(execFile)
const root = path.resolve(import.meta.dirname, "..")

interface Coverage {
  readonly result: ReadonlyArray<{ readonly url: string; readonly functions: ReadonlyArray<{ readonly functionName: string; readonly ranges: ReadonlyArray<{ readonly count: number }> }> }>
}

/**
 * Runs `node <argv>` (a `zephyr` command, or a script) with V8 coverage on, coverage in `dir`,
 * and answers how many times each process that loaded the engine bundle and wrote its
 * coverage (a process killed by a signal writes none) ran a lazily loaded module of it. In
 * dist/engine.cjs such a module's code is a function named after its source file
 * (`"runtime/Dashboard.ts"()`, `"node_modules/…/NodeHttpServer.js"()`) that runs on its first
 * import; a module the bundle runs at start-up has no such function, and its name is then in
 * no process's answer.
 */
export interface LazyModuleRuns {
  (module: string): ReadonlyArray<number>
  /** Per process that loaded the bundle, the files of dist/vendor/ it loaded (`aws-s3.cjs`, ...). */
  readonly vendorsLoaded: ReadonlyArray<ReadonlyArray<string>>
  /** Per process that loaded the bundle, the packages it loaded from node_modules (`tsx`, `@scope/name`). */
  readonly packagesLoaded: ReadonlyArray<ReadonlyArray<string>>
}

const lazyModuleRuns = async (dir: string, argv: ReadonlyArray<string>): Promise<LazyModuleRuns> => {
  const coverage = path.join(dir, `coverage-${fs.readdirSync(dir).length}`)
  await exec(process.execPath, [...argv], { cwd: root, env: { ...process.env, NODE_V8_COVERAGE: coverage } })
  const processes = fs.readdirSync(coverage).flatMap((f) => {
    const scripts = (JSON.parse(fs.readFileSync(path.join(coverage, f), "utf8")) as Coverage).result
    const bundle = scripts.find((r) => r.url.endsWith("/dist/engine.cjs"))
    const vendors = scripts.flatMap((r) => /\/dist\/vendor\/([^/]+)$/.exec(r.url)?.[1] ?? []).sort()
    const packages = [...new Set(scripts.flatMap((r) => /\/node_modules\/((?:@[^/]+\/)?[^/@][^/]*)\//.exec(r.url)?.[1] ?? []))].sort()
    return bundle ? [{ bundle, vendors, packages }] : []
  })
  if (processes.length === 0) throw new Error(`no process of \`node ${argv.join(" ")}\` wrote the engine bundle's coverage`)
  const runs = (module: string) => processes.flatMap(({ bundle }) => {
    const count = bundle.functions.find((fn) => fn.functionName === module)?.ranges[0]?.count
    return count === undefined ? [] : [count]
  })
  return Object.assign(runs, { vendorsLoaded: processes.map((p) => p.vendors), packagesLoaded: processes.map((p) => p.packages) })
}

/** Per process that loaded the bundle, a count of 0 (what a lazily loaded module that never ran shows). */
const notRun = (runs: LazyModuleRuns): ReadonlyArray<number> => runs("runtime/formats/Csv.ts").map(() => 0)

/**
 * Expects each of `modules` (lazily loaded modules of the bundle) to have run in no process of
 * either of `localCsvRuns`' runs, once coverage is seen to see a lazy module run: the CSV
 * reader, once, in the library's run.
 */
export const expectNeverRun = (runs: { readonly library: LazyModuleRuns; readonly command: LazyModuleRuns }, modules: ReadonlyArray<string>): void => {
  expect(runs.library("runtime/formats/Csv.ts")).toEqual([1])
  for (const processes of [runs.library, runs.command]) {
    const none = notRun(processes)
    expect(none.length).toBeGreaterThanOrEqual(1)
    for (const module of modules) expect(processes(module), module).toEqual(none)
  }
}

/**
 * Writes a pipeline module of `body` (the dataset its default export defines) for the time of
 * `use`: JavaScript, so that a plain import() loads it too; in out/, where it resolves "zephyr".
 */
const withPipeline = async <A>(name: string, body: string, use: (pipeline: string) => Promise<A>): Promise<A> => {
  const pipeline = path.join(root, "out", name)
  fs.mkdirSync(path.dirname(pipeline), { recursive: true })
  fs.writeFileSync(pipeline, `import { Dataset, Pipeline } from "zephyr"\nexport default Pipeline.define(() => ${body})\n`)
  try {
    return await use(pipeline)
  } finally {
    fs.rmSync(pipeline, { force: true })
  }
}

const oneWorkerRun = (pipeline: string) => ["bin/zephyr.js", "run", pipeline, "--workers", "1", "--no-progress"]

/**
 * Runs a pipeline reading a CSV file and writing JSONL (in `dir`) twice with coverage: by the
 * library in one process (`Zephyr.run`, in-process workers), then by `zephyr run` with one
 * worker process. The library's run reads the CSV through a lazily imported module, so a
 * test can see that coverage does see such a module run.
 */
export const localCsvRuns = async (dir: string) => {
  fs.writeFileSync(path.join(dir, "in.csv"), "a,b\n1,2\n3,4\n")
  const body = `Dataset.readCsv(${JSON.stringify(path.join(dir, "in.csv"))}).writeJsonl(${JSON.stringify(path.join(dir, "out", "part-{shard}.jsonl"))})`
  return withPipeline(`csv-${path.basename(dir)}.mjs`, body, async (pipeline) => {
    const library = await lazyModuleRuns(dir, [
      "--input-type=module", "-e",
      `import { Zephyr } from "zephyr"; const m = await import(${JSON.stringify(pipeline)}); await Zephyr.run(m.default({}))`
    ])
    const command = await lazyModuleRuns(dir, oneWorkerRun(pipeline))
    return { library, command }
  })
}

/**
 * Runs a groupBy over a small JSONL file (in `dir`) by `zephyr run` with one worker process,
 * with coverage: a run whose reduce reads shuffle blocks.
 */
export const localShuffleRun = async (dir: string): Promise<LazyModuleRuns> => {
  fs.writeFileSync(path.join(dir, "in.jsonl"), ["a", "b", "a"].map((k) => JSON.stringify({ k })).join("\n") + "\n")
  const body = `Dataset.readJsonl(${JSON.stringify(path.join(dir, "in.jsonl"))}).groupBy((r) => r.k, (k, rs) => ({ k, n: [...rs].length })).writeJsonl(${JSON.stringify(path.join(dir, "out", "part-{shard}.jsonl"))})`
  return withPipeline(`shuffle-${path.basename(dir)}.mjs`, body, (pipeline) => lazyModuleRuns(dir, oneWorkerRun(pipeline)))
}

