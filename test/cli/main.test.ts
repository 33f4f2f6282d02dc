import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { waitFor } from "../faults/Processes.ts"

// The command line's conventions, on the built `zephyr` command in real processes.
let dir: string
const children: Array<ChildProcess> = []
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-main-")) })
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  fs.rmSync(dir, { recursive: true, force: true })
})

const run = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, NO_COLOR: "", ...env }, stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    let stdout = "", stderr = ""
    child.stdout!.on("data", (d) => { stdout += d })
    child.stderr!.on("data", (d) => { stderr += d })
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const zephyr = (...args: Array<string>) => run(process.execPath, ["bin/zephyr.js", ...args])

/** The processes whose environment carries `mark` (a child inherits it). */
const processesMarked = (mark: string): Array<number> =>
  fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p}/environ`, "latin1").includes(`ZEPHYR_TEST_MARK=${mark}`)
    } catch {
      return false
    }
  }).map(Number)

const hasScript = (() => {
  try { execFileSync("script", ["--version"], { stdio: "ignore" }); return true } catch { return false }
})()
const shellWord = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`
/** What a terminal shows of `zephyr ARGS` (a pseudo-terminal made by util-linux `script`). */
const onTerminal = (env: NodeJS.ProcessEnv, ...args: Array<string>) =>
  run("script", ["-qfec", [process.execPath, "bin/zephyr.js", ...args].map(shellWord).join(" "), "/dev/null"], { TERM: "xterm", ...env })

const ESC = "\u001b"

describe("zephyr: command-line conventions", { timeout: 120_000 }, () => {
  it("alone, prints a short usage on stderr and exits with 2", async () => {
    const { code, stdout, stderr } = await zephyr()
    expect(code).toBe(2)
    expect(stdout).toBe("")
    expect(stderr).toContain("Usage: zephyr <command> [options]")
    for (const command of ["run", "compile", "check", "worker", "gc"]) expect(stderr).toContain(`  ${command} `)
  })

  it("a usage error exits with 2: an unknown command, a missing argument, a bad value, an unknown option, a bad log level", { timeout: 300_000 }, async () => {
    const cases: Array<Array<string>> = [
      ["bogus"],
      ["run"],
      ["run", "examples/count.ts", "--workers", "many"],
      ["run", "examples/count.ts", "--heartbeat-timeout", "soon", "--no-check"],
      ["run", "examples/count.ts", "--backend", "carrier-pigeon", "--no-check"],
      ["--wizard"],
      ["--log-level", "loud", "run", "examples/count.ts"],
      ["run", "examples/count.ts", "--log-format", "xml"]
    ]
    for (const args of cases) {
      const { code, stderr } = await zephyr(...args)
      expect(code, `zephyr ${args.join(" ")}: ${stderr}`).toBe(2)
      expect(stderr.length).toBeGreaterThan(0)
    }
    // A run that fails is not a usage error.
    const failed = await zephyr("run", "test/cli/fixtures/failing.ts", "--workers", "1", "--no-check", "--no-progress", "--chunk-dir", dir)
    expect(failed.code).toBe(1)
  })

  it("a bad integer, choice or KEY=VALUE, or an option given twice, names its option, and leaves no process behind", async () => {
    const cases: Array<[Array<string>, string]> = [
      [["run", "examples/count.ts", "--workers", "many"], 'Invalid option --workers: "many"; expected an integer.'],
      [["run", "examples/count.ts", "--max-connections=1.5"], 'Invalid option --max-connections: "1.5"; expected an integer.'],
      [["run", "examples/count.ts", "--dashboard=x"], 'Invalid option --dashboard: "x"; expected an integer.'],
      [["compile", "examples/count.ts", "--explain", "--format", "yaml"], 'Invalid option --format: "yaml"; expected one of text, json, dot.'],
      [["check", "examples/count.ts", "--format", "dot"], 'Invalid option --format: "dot"; expected one of text, json.'],
      [["run", "examples/count.ts", "--arg", "input"], 'Invalid option --arg: "input"; expected KEY=VALUE (a key, =, then a value).'],
      // @effect/cli says "Received unknown argument: '--workers'" of an option given twice.
      [["run", "examples/count.ts", "--workers", "2", "--workers=3"], 'Option --workers is given twice ("2", then "3"); give it once.'],
      [["run", "examples/count.ts", "--no-progress", "--memory-budget", "1GB", "--no-progress"], "Option --no-progress is given twice; give it once."],
      [["compile", "examples/count.ts", "--export", "a", "--export", "b"], 'Option --export is given twice ("a", then "b"); give it once.']
    ]
    for (const [args, message] of cases) {
      // `run` starts its worker processes before it reads its options: they must go too.
      const mark = `zephyr-test-${process.pid}-${Math.random().toString(36).slice(2)}`
      const { code, stdout, stderr } = await run(process.execPath, ["bin/zephyr.js", ...args, "--chunk-dir", dir], { ZEPHYR_TEST_MARK: mark })
      expect(code, `zephyr ${args.join(" ")}`).toBe(2)
      expect(stdout).toBe("")
      expect(stderr).toBe(`zephyr: ${message}\n`)
      await waitFor(() => processesMarked(mark).length === 0, `the processes of zephyr ${args.join(" ")} to be gone`, 10_000)
      expect(fs.readdirSync(dir)).toEqual([])
    }
    // The options @effect/cli parses keep their help and completions.
    expect((await zephyr("run", "--help")).stdout).toContain("--workers integer\n\n  An integer.")
    expect((await zephyr("--completions", "bash")).stdout).toContain('compgen -W "text,json,dot"')
    // What @effect/cli takes for an integer still runs.
    expect((await zephyr("run", "examples/count.ts", "--workers", "1e0", "--no-progress", "--chunk-dir", dir)).code).toBe(0)
  })

  it("help lists only options that apply, names every backend; --version is package.json's", async () => {
    const top = await zephyr("--help")
    expect(top.code).toBe(0)
    expect(top.stdout).not.toContain("--wizard")
    for (const option of ["--log-level", "--log-format", "--version", "--help"]) expect(top.stdout).toContain(option)
    const help = await zephyr("run", "--help")
    expect(help.stdout).not.toContain("--wizard")
    const backend = help.stdout.slice(help.stdout.indexOf("\n--backend text"), help.stdout.indexOf("\n--chunk-dir text"))
    for (const name of ["local", "in-process", "external", "slurm", "kubernetes"]) expect(backend).toContain(`${name}:`)
    const { version } = JSON.parse(fs.readFileSync("package.json", "utf8"))
    expect((await zephyr("--version")).stdout).toBe(`${version}\n`)
    expect((await zephyr("run", "--version")).stdout.trim()).toBe(version)
  })

  it("writes no ANSI codes when its output is not a terminal", async () => {
    const help = await zephyr("run", "--help")
    expect(help.stdout).toContain("OPTIONS")
    expect(help.stdout).not.toContain(ESC)
    const error = await zephyr("run")
    expect(error.stderr).toContain("Missing argument")
    expect(error.stderr).not.toContain(ESC)
  })

  it.skipIf(!hasScript)("on a terminal, writes colours, and none under NO_COLOR", async () => {
    const coloured = await onTerminal({ NO_COLOR: "" }, "run", "--help")
    expect(coloured.stdout).toContain("OPTIONS")
    expect(coloured.stdout).toContain(`${ESC}[`)
    const plain = await onTerminal({ NO_COLOR: "1" }, "run", "--help")
    expect(plain.stdout).toContain("OPTIONS")
    expect(plain.stdout).not.toContain(ESC)
  })

  it("--log-level sets which logs show: debug adds the scheduler's, warning hides the info lines and the summary", async () => {
    const base = ["run", "test/cli/fixtures/ordered.ts", "--workers", "1", "--no-check", "--chunk-dir", dir]
    const debug = await zephyr(...base, "--log-level", "debug")
    expect(debug.code, debug.stderr).toBe(0)
    expect(debug.stderr).toMatch(/^zephyr DEBUG stage 0 started/m)
    expect(debug.stderr).toContain("summary of ordered-")
    const quiet = await zephyr("--log-level=warning", ...base)
    expect(quiet.code, quiet.stderr).toBe(0)
    expect(quiet.stderr).not.toContain("INFO")
    expect(quiet.stderr).not.toContain("summary of")
  })

  it("--log-format json: one object per line, annotated with execution, stage, shard and attempt", async () => {
    const { code, stderr } = await zephyr("run", "test/cli/fixtures/failing.ts", "--workers", "1", "--no-check", "--no-progress", "--chunk-dir", dir, "--log-format", "json")
    expect(code).toBe(1)
    // The last line is the failure, as a sentence; everything before it is a log.
    const lines = stderr.trimEnd().split("\n")
    expect(lines.pop()).toContain("zephyr: Shard 1 of stage 0 failed 3 times")
    const logs = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    for (const log of logs) expect(Object.keys(log)).toEqual(expect.arrayContaining(["time", "level", "message"]))
    const retries = logs.filter((l) => String(l.message).startsWith("shard 1 of stage 0 failed"))
    expect(retries.map((l) => [l.level, l.stage, l.shard, l.attempt])).toEqual([["WARN", 0, 1, 0], ["WARN", 0, 1, 1]])
    for (const l of retries) {
      expect(l.execution).toMatch(/^failing-/)
      expect(l.worker).toMatch(/-w0$/)
    }
    const summary = logs.find((l) => l.summary !== undefined)
    expect(summary).toMatchObject({ level: "INFO", summary: { outcome: "failed", retries: { total: 2, byCause: { "user-error": 2 } } } })
  })
})
