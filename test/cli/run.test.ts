import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { alive, waitFor, workersOf } from "../faults/Processes.ts"

const exec = promisify(execFile)
const zephyr = (...args: Array<string>) => exec(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8" })
let dir: string
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-cli-")) })
// A test that fails (or times out) before it stops its driver must not leave it running.
const drivers: Array<ChildProcess> = []
afterEach(() => {
  for (const d of drivers.splice(0)) if (d.exitCode === null && d.signalCode === null) d.kill("SIGKILL")
  fs.rmSync(dir, { recursive: true, force: true })
})

describe("zephyr run", () => {
  it("--print-results writes each result as one JSON line on stdout, in shard order, and nothing else", async () => {
    const { stdout, stderr } = await zephyr("run", "test/cli/fixtures/ordered.ts", "--workers", "2", "--print-results", "--chunk-dir", dir)
    expect(stdout).toBe([
      '{"n":3,"square":9,"tag":"t3","big":"100000000000000000000"}',
      '{"n":1,"square":1,"tag":"t1","big":"100000000000000000000"}',
      '{"n":2,"square":4,"tag":"t2","big":"100000000000000000000"}',
      ""
    ].join("\n"))
    expect(stderr).toContain("execution ordered-")
    expect(fs.readdirSync(dir)).toEqual([]) // the execution's chunks are gone
  })

  it("groupBy and deduplicate with default shard counts over a glob run on worker processes (same fingerprint)", async () => {
    const input = path.join(dir, "in")
    fs.mkdirSync(input)
    for (let f = 0; f < 3; f++) {
      const rows = Array.from({ length: 20 }, (_, i) => JSON.stringify({ user: `u${(i + f) % 4}`, n: i % 5 }))
      fs.writeFileSync(path.join(input, `part-${f}.jsonl`), rows.join("\n") + "\n")
    }
    const { stdout } = await zephyr("run", "test/cli/fixtures/default-shards.ts", "--workers", "2", "--no-progress", "--print-results",
      "--chunk-dir", path.join(dir, "chunks"), "--arg", `input=${input}`)
    // Distinct (user, n) pairs over the three files, summed per user.
    const expected = new Map<string, number>()
    const seen = new Set<string>()
    for (let f = 0; f < 3; f++) for (let i = 0; i < 20; i++) {
      const user = `u${(i + f) % 4}`, n = i % 5
      if (seen.has(`${user}/${n}`)) continue
      seen.add(`${user}/${n}`)
      expected.set(user, (expected.get(user) ?? 0) + n)
    }
    const got = stdout.trim().split("\n").map((l) => JSON.parse(l) as { user: string; n: number })
    expect(new Map(got.map((r) => [r.user, r.n]))).toEqual(expected)
    expect(got).toHaveLength(expected.size)
    const { stdout: plan } = await zephyr("compile", "test/cli/fixtures/default-shards.ts", "--explain", "--format", "json", "--arg", `input=${input}`)
    expect(JSON.parse(plan).stages.map((s: { shards: { out: number } }) => s.shards.out)).toEqual([3, 3, 3])
  })

  it("a user error exits non-zero, prints nothing on stdout, and names the message, stage and shard on stderr", async () => {
    const err = await zephyr("run", "test/cli/fixtures/failing.ts", "--workers", "2", "--print-results", "--no-progress", "--chunk-dir", dir).catch((e) => e)
    expect(err.code).not.toBe(0)
    expect(err.stdout).toBe("")
    expect(err.stderr).toContain("no twos allowed")
    expect(err.stderr).toMatch(/Shard 1 of stage 0 failed 3 times/)
    expect(err.stderr).toContain("map(rejectTwos) at test/cli/fixtures/failing.ts:3")
  })

  it("takes --arg anywhere, durations and sizes, and runs in-process on request", async () => {
    const { stdout } = await zephyr("run", "--arg", "shards=3", "test/compiler/fixtures/modules/args.ts", "--export", "numbers", "--backend", "in-process",
      "--heartbeat-interval", "500ms", "--heartbeat-timeout", "2s", "--memory-budget", "64MB", "--no-progress", "--print-results")
    expect(stdout.trim().split("\n").map((l) => JSON.parse(l)).sort((a, b) => a.k - b.k)).toEqual([{ k: 0, n: 3 }, { k: 1, n: 3 }])
  })

  it("refuses a bad option value, naming the option", async () => {
    const err = await zephyr("run", "examples/count.ts", "--heartbeat-timeout", "soon", "--no-progress").catch((e) => e)
    expect(err.code).not.toBe(0)
    expect(err.stderr).toContain('Invalid option heartbeatTimeout: "soon"')
  })

  it("Ctrl-C (SIGINT) stops the run, kills its workers and removes its chunks", async () => {
    const driver = spawn(process.execPath, ["bin/zephyr.js", "run", "test/faults/fixtures/resumable.ts", "--workers", "2", "--chunk-dir", dir, "--arg", `dir=${dir}`, "--arg", "block=1", "--no-progress"], { stdio: "ignore" })
    drivers.push(driver)
    await waitFor(() => fs.existsSync(path.join(dir, "reached")), "the run to be under way")
    const workers = workersOf(driver.pid!)
    expect(workers.length).toBeGreaterThan(0) // an idle one may already be released (the last stage drains)
    const exited = new Promise<number | null>((resolve) => driver.on("exit", (code) => resolve(code)))
    driver.kill("SIGINT")
    expect(await exited).not.toBe(0)
    await waitFor(() => workers.every((p) => !alive(p)), "the workers to be gone", 10_000)
    expect(fs.readdirSync(dir).filter((f) => !["reached", "blocked", "stage0.log"].includes(f))).toEqual([])
  })
})
