import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterEach, describe, expect, it } from "vitest"
import { waitFor } from "../faults/Processes.ts"
import { useTempDirs } from "../TempDirs.ts"

const exec = promisify(execFile)
const tempDir = useTempDirs("zephyr-check-")
// Each test gets its own module cache, so the checks really run (and are not just looked up).
const zephyr = (cache: string, ...args: Array<string>) =>
  exec(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache } })
const fail = (cache: string, ...args: Array<string>) => zephyr(cache, ...args).then(
  (r) => { throw new Error(`expected a failure, got exit 0: ${r.stdout}${r.stderr}`) },
  (e: { code: number; stdout: string; stderr: string }) => e
)

const fixture = (code: string) => `test/compiler/analysis/fixtures/${code}`

describe("zephyr check", () => {
  it("prints the diagnostics with file:line:column and a hint, and exits 1 on an error", async () => {
    const err = await fail(tempDir(), "check", fixture("nondeterministic-key.ts"))
    expect(err.code).toBe(1)
    expect(err.stdout).toContain(`${fixture("nondeterministic-key.ts")}:7:31  error  nondeterministic-key  Math.random() in the key function of groupBy at line 12`)
    expect(err.stdout).toContain("    hint: Compute the key from the item alone")
    expect(err.stdout).toContain(`${fixture("nondeterministic-key.ts")}: 2 errors\n`)
    expect(err.stderr).toContain("failed its checks (2 errors)")
  })

  it("--format json: a versioned document; warnings alone exit 0", async () => {
    const { stdout } = await zephyr(tempDir(), "check", fixture("lossy-boundary-type.ts"), "--format", "json")
    const doc = JSON.parse(stdout)
    expect(doc).toMatchObject({ version: 1, module: fixture("lossy-boundary-type.ts"), errors: 0, warnings: 2 })
    expect(doc.diagnostics.map((d: any) => [d.code, d.severity, d.line, d.op])).toEqual([
      ["lossy-boundary-type", "warning", 21, "o2"],
      ["lossy-boundary-type", "warning", 22, "o3"]
    ])
    expect(Object.keys(doc.diagnostics[0]).sort()).toEqual(["code", "column", "file", "hint", "line", "message", "op", "severity"])
  })

  it("checks a module that cannot even be loaded, and says why", async () => {
    const err = await fail(tempDir(), "check", fixture("unresolvable-import.bad.ts"), "--format", "json")
    expect(JSON.parse(err.stdout).diagnostics.map((d: any) => [d.code, d.line])).toEqual([["unresolvable-import", 6], ["unresolvable-import", 7]])
  })
})

describe("zephyr compile", () => {
  it("prints diagnostics on stderr, the plan on stdout, and fails on an error; --no-check skips them", async () => {
    const cache = tempDir()
    const err = await fail(cache, "compile", fixture("type-error.bad.ts"), "--explain")
    expect(err.stdout).toMatch(/^plan [0-9a-f]{16}  1 stage\n/)
    expect(err.stderr).toContain(`${fixture("type-error.bad.ts")}:8:17  error  type-error  TS2339: Property 'toUpperCase' does not exist on type 'number'.`)
    const skipped = await zephyr(cache, "compile", fixture("type-error.bad.ts"), "--no-check")
    expect(skipped.stdout).toContain("not checked")
    expect(skipped.stderr).toBe("")
  })

  it("--format json puts the diagnostics in the explain document", async () => {
    const { stdout, stderr } = await zephyr(tempDir(), "compile", fixture("module-state-write.ts"), "--explain", "--format", "json")
    const doc = JSON.parse(stdout)
    expect(doc.version).toBe(1)
    expect(doc.stages).toHaveLength(1)
    expect(doc.diagnostics.map((d: any) => [d.code, d.line, d.op])).toEqual([["module-state-write", 12, "o1"], ["module-state-write", 17, "o2"]])
    expect(stderr).toBe("")
  })

  it("an example compiles with no diagnostics, and --check is the default spelled out", async () => {
    const { stdout, stderr } = await zephyr(tempDir(), "compile", "examples/wordcount.ts", "--check")
    expect(stdout).toContain("examples/wordcount.ts: 2 stage(s), fingerprint ")
    expect(stdout).toContain("no problems")
    expect(stderr).toBe("")
  })
})

/** Processes whose environment names `driver` as their driver: its worker processes. */
const workersOfDriver = (driver: number): Array<number> => fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((p) => {
  try {
    return fs.readFileSync(`/proc/${p}/environ`, "utf8").split("\0").includes(`ZEPHYR_DRIVER_PID=${driver}`) ? [Number(p)] : []
  } catch {
    return []
  }
})

describe("zephyr run", () => {
  const drivers: Array<ChildProcess> = []
  afterEach(() => {
    for (const d of drivers.splice(0)) if (d.exitCode === null && d.signalCode === null) d.kill("SIGKILL")
  })

  const run = (cache: string, ...args: Array<string>) => {
    const driver = spawn(process.execPath, ["bin/zephyr.js", "run", ...args], { env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache }, stdio: ["ignore", "pipe", "pipe"] })
    drivers.push(driver)
    let stderr = ""
    driver.stderr!.on("data", (d) => { stderr += d })
    const seen = new Set<number>()
    const poll = setInterval(() => { for (const w of workersOfDriver(driver.pid!)) seen.add(w) }, 25)
    const exit = new Promise<{ code: number | null; stderr: string; workers: ReadonlySet<number> }>((resolve) =>
      driver.on("exit", (code) => { clearInterval(poll); resolve({ code, stderr, workers: seen }) }))
    return { driver, exit }
  }

  it("refuses a module with an error before any worker registers: the spares started ahead are stopped, no task runs", async () => {
    const dir = tempDir()
    const marker = path.join(dir, "tasks.log")
    const { driver, exit } = run(path.join(dir, "cache"), "test/cli/fixtures/refused.bad.ts", "--workers", "2", "--arg", `marker=${marker}`)
    const { code, stderr, workers } = await exit
    expect(code).toBe(1)
    expect(stderr).toContain("test/cli/fixtures/refused.bad.ts:11:14  error  type-error  TS2339")
    expect(stderr).toContain("failed its checks (1 error), so the run was refused before any worker registered")
    expect(stderr).not.toContain("execution ") // the line a run prints when it starts
    // The worker processes `zephyr run` starts ahead of its checks were there, and are gone.
    expect(workers.size).toBeGreaterThan(0)
    await waitFor(() => workersOfDriver(driver.pid!).length === 0, "the spare workers to exit", 10_000)
    expect(fs.existsSync(marker)).toBe(false)
  }, 120_000)

  it("--no-check skips the checks: the same module runs, and fails in its tasks", async () => {
    const dir = tempDir()
    const marker = path.join(dir, "tasks.log")
    const { exit } = run(path.join(dir, "cache"), "test/cli/fixtures/refused.bad.ts", "--workers", "2", "--arg", `marker=${marker}`, "--no-check", "--no-progress", "--max-shard-failures", "1")
    const { code, stderr } = await exit
    expect(code).toBe(1)
    expect(stderr, stderr).toContain("n.toUpperCase is not a function")
    expect(stderr).not.toContain("type-error")
    expect(fs.readFileSync(marker, "utf8")).toContain("task ")
  }, 120_000)
})

describe("zephyr check on a module that imports untyped JavaScript", () => {
  it("warns that the import has no types, and still lets the module run", async () => {
    // Under the package's own directory, so the module can import "zephyr".
    fs.mkdirSync("out", { recursive: true })
    const dir = fs.mkdtempSync(path.resolve("out", "untyped-"))
    try {
      fs.writeFileSync(path.join(dir, "helper.js"), "export const double = (n) => n * 2\n")
      fs.writeFileSync(path.join(dir, "pipeline.ts"), [
        `import { Dataset } from "zephyr"`,
        `import { double } from "./helper.js"`,
        `export default Dataset.fromList([1, 2, 3]).map((n: number) => double(n))`
      ].join("\n") + "\n")
      const cache = tempDir()
      const { stdout } = await zephyr(cache, "check", path.join(dir, "pipeline.ts"), "--format", "json")
      const doc = JSON.parse(stdout)
      expect(doc).toMatchObject({ errors: 0, warnings: 1 })
      expect(doc.diagnostics[0]).toMatchObject({ code: "type-error", severity: "warning", line: 2 })
      expect(doc.diagnostics[0].message).toContain("TS7016")
      const run = await zephyr(cache, "run", path.join(dir, "pipeline.ts"), "--backend", "in-process", "--print-results", "--no-progress")
      expect(run.stdout).toBe("2\n4\n6\n")
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
