import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"

// `zephyr run` shows its progress on stderr: live lines on a terminal, status lines
// otherwise, and a summary at the end. Real processes; the terminal is a pseudo-terminal
// made by util-linux `script`.
let dir: string
const children: Array<ChildProcess> = []
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-progress-")) })
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  fs.rmSync(dir, { recursive: true, force: true })
})

/** Runs a command to its end: exit code and what it wrote. */
const run = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
    children.push(child)
    let stdout = "", stderr = ""
    child.stdout!.on("data", (d) => { stdout += d })
    child.stderr!.on("data", (d) => { stderr += d })
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

const zephyr = (...args: Array<string>) => run(process.execPath, ["bin/zephyr.js", ...args], { NO_COLOR: "" })

const slowRun = (...extra: Array<string>) => [
  "run", "test/cli/fixtures/slow.ts", "--workers", "2", "--no-check", "--chunk-dir", path.join(dir, "chunks"), "--arg", `out=${path.join(dir, "out")}`, ...extra
]

const hasScript = (() => {
  try { execFileSync("script", ["--version"], { stdio: "ignore" }); return true } catch { return false }
})()

const shellWord = (w: string) => `'${w.replace(/'/g, `'\\''`)}'`

/** The status line of the reference, for stage 1 of 2 (a map) or 2 of 2 (a reduce). */
const statusLine = /^zephyr INFO {2}\[slow-[\w-]+\] \[stage (1\/2 map|2\/2 reduce)\] \d+\/[26] complete, \d+ in-flight, \d+ queued, \d+\/\d+ workers alive, \d+ dead, items=[\d.]+k? \([\d.]+k?\/s\), bytes=[\d.]+ k?B \([\d.]+ k?B\/s\)$/

const expectSummary = (text: string) => {
  expect(text).toMatch(/summary of slow-[\w-]+: succeeded in [\d.]+m?s/)
  expect(text).toMatch(/\n {2}1\/2 +map +6 +[\d.]+m?s +6 +0 B +6 +[\d.]+ k?B +0\n/)
  expect(text).toMatch(/\n {2}2\/2 +reduce +2 +[\d.]+m?s +6 +[\d.]+ k?B +2 +[\d.]+ B +0\n/)
  expect(text).toContain("retries: none")
  expect(text).toContain(`outputs: 2 file(s) in ${path.join(dir, "out")} (2)`)
}

describe("zephyr run: progress", { timeout: 180_000 }, () => {
  it.skipIf(!hasScript)("on a terminal, draws one live line per stage that started, with its bar, and ends with the summary", async () => {
    // A terminal wide enough that no line wraps.
    const command = `stty cols 250 rows 50; ${[process.execPath, "bin/zephyr.js", ...slowRun()].map(shellWord).join(" ")}`
    const { code, stdout } = await run("script", ["-qfec", command, "/dev/null"], { NO_COLOR: "", TERM: "xterm" })
    expect(code, stdout).toBe(0)
    // The terminal saw the lines drawn again in place (log-update erases them: ESC [2K, ESC [1A).
    expect(stdout).toContain("\u001b[2K\u001b[1A")
    expect(stdout).toMatch(/stage 1\/2 map \[[█░]{16}\] \d\/6 shards, \d+ in flight, 0 retries, .* items, .*\/s, ETA .*, workers \d\/\d alive: \d busy, \d idle, 0 dead/)
    expect(stdout).toMatch(/stage 1\/2 map \[█{16}\] 6\/6 shards in [\d.]+m?s: 6 items, 0 B in; 6 items, [\d.]+ k?B out; 0 retries/)
    expect(stdout).toMatch(/stage 2\/2 reduce \[[█░]{16}\] [\d/]+ shards/)
    expectSummary(stdout.replace(/\r/g, ""))
  })

  it("off a terminal, prints a status line every --progress-interval, no terminal codes, and the summary", async () => {
    const { code, stderr } = await zephyr(...slowRun("--progress-interval", "100ms"))
    expect(code, stderr).toBe(0)
    const lines = stderr.split("\n").filter((l) => l.includes("] [stage "))
    expect(lines.length, stderr).toBeGreaterThan(1)
    for (const line of lines) expect(line).toMatch(statusLine)
    expect(stderr).not.toContain("\u001b")
    expectSummary(stderr)
  })

  it("--no-progress prints no progress, and the summary still", async () => {
    const { code, stderr } = await zephyr(...slowRun("--progress-interval", "100ms", "--no-progress"))
    expect(code, stderr).toBe(0)
    expect(stderr).not.toContain("] [stage ")
    expectSummary(stderr)
  })
})
