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

describe("zephyr run", { timeout: 120_000 }, () => {
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

  it("reads only the fields its functions read, on worker processes, with the output of a run that reads them all", async () => {
    const input = path.join(dir, "in")
    fs.mkdirSync(input)
    // Flat rows, rows JSON.parse must read (escapes, nesting), a row without the key, and fields of every kind.
    for (let f = 0; f < 3; f++) {
      const rows = Array.from({ length: 30 }, (_, i) =>
        i % 7 === 3 ? JSON.stringify({ id: i, meta: { key: "nested" }, text: 'say "hi"', key: `k${i % 4}` })
        : i % 11 === 5 ? JSON.stringify({ id: i, text: "no key here" })
        : JSON.stringify({ id: i, key: `k${(i + f) % 4}`, score: i / 3, ok: i % 2 === 0, none: null, text: `t${i} ${"w".repeat(i)}` }))
      fs.writeFileSync(path.join(input, `part-${f}.jsonl`), rows.join("\n") + "\n")
    }
    const run = (...more: Array<string>) => zephyr("run", "test/cli/fixtures/read-columns.ts", "--workers", "2", "--no-progress", "--print-results",
      "--chunk-dir", path.join(dir, "chunks"), "--arg", `input=${input}`, ...more)
    const sorted = (stdout: string) => stdout.trim().split("\n").map((l) => JSON.parse(l) as { key: string; count: number }).sort((a, b) => a.key.localeCompare(b.key))
    const projected = await run()
    expect(projected.stderr).toContain("stage 0 reads only the field key of each input row, all that its functions read")
    const everything = await run("--no-check")
    expect(everything.stderr).not.toContain("reads only")
    expect(sorted(projected.stdout)).toEqual(sorted(everything.stdout))
    expect(sorted(projected.stdout).reduce((n, r) => n + r.count, 0)).toBe(3 * 30 - 3 * 3)
    const { stdout: dry } = await zephyr("run", "test/cli/fixtures/read-columns.ts", "--dry-run", "--arg", `input=${input}`)
    expect(dry).toContain("loadJsonl, columns [key] (the fields its functions read)")
    const { stdout: plan } = await zephyr("compile", "test/cli/fixtures/read-columns.ts", "--explain", "--format", "json", "--arg", `input=${input}`)
    expect(JSON.parse(plan).stages[0].ops[0]).toMatchObject({ kind: "loadJsonl", columns: ["key"], columnsInferred: true })
  })

  it("adds in place what a combiner only sums, on worker processes, with the output of a run that calls it for every item", async () => {
    const input = path.join(dir, "in")
    fs.mkdirSync(input)
    // Words repeated within and across files, and a line of words seen once.
    for (let f = 0; f < 3; f++) {
      const lines = Array.from({ length: 40 }, (_, i) => `Alpha beta ${"gamma ".repeat(i % 5)}w${(i * 7 + f) % 13} it's`)
      fs.writeFileSync(path.join(input, `part-${f}.txt`), [...lines, `once${f} only${f}`].join("\n") + "\n")
    }
    const run = (...more: Array<string>) => zephyr("run", "bench/pipelines/wordcount.ts", "--workers", "2", "--no-progress",
      "--chunk-dir", path.join(dir, "chunks"), "--arg", `input=${input}/*.txt`, "--arg", `out=${path.join(dir, more.length > 0 ? "every" : "sums")}`, ...more)
    const counts = (out: string) => fs.readdirSync(out).flatMap((f) => fs.readFileSync(path.join(out, f), "utf8").trim().split("\n").filter((l) => l !== ""))
      .map((l) => JSON.parse(l) as { word: string; count: number }).sort((a, b) => a.word.localeCompare(b.word))
    const summed = await run()
    expect(summed.stderr).toContain("stage 0's combiner only sums count: the shuffle adds them in place and calls it once per key")
    const every = await run("--no-check")
    expect(every.stderr).not.toContain("only sums")
    expect(counts(path.join(dir, "sums"))).toEqual(counts(path.join(dir, "every")))
    expect(counts(path.join(dir, "sums")).find((c) => c.word === "gamma")).toEqual({ word: "gamma", count: 3 * 8 * (1 + 2 + 3 + 4) })
    const { stdout: plan } = await zephyr("compile", "bench/pipelines/wordcount.ts", "--explain", "--format", "json", "--arg", `input=${input}/*.txt`)
    expect(JSON.parse(plan).stages[0].ops[2]).toMatchObject({ kind: "groupBy", role: "scatter", combinerSums: ["count"] })
  })

  it("a user error exits non-zero, prints nothing on stdout, and names the message, stage and shard on stderr", async () => {
    const err = await zephyr("run", "test/cli/fixtures/failing.ts", "--workers", "2", "--print-results", "--no-progress", "--chunk-dir", dir).catch((e) => e)
    expect(err.code).not.toBe(0)
    expect(err.stdout).toBe("")
    expect(err.stderr).toContain("no twos allowed")
    expect(err.stderr).toMatch(/Shard 1 of stage 0 failed 3 times/)
    expect(err.stderr).toContain("map(rejectTwos) at test/cli/fixtures/failing.ts:3")
  })

  // /proc refuses new entries with ENOENT although the parent exists, where Node 20's
  // recursive mkdir retried forever: the run never ended and ignored Ctrl-C.
  it.runIf(fs.existsSync("/proc/self"))("a chunk directory or an output under /proc fails at once, naming the directory, and is not tried again", async () => {
    const chunks = await zephyr("run", "examples/wordcount.ts", "--workers", "1", "--no-progress", "--chunk-dir", "/proc/zephyr-no-such/chunks").catch((e) => e)
    expect(chunks.code).toBe(1)
    expect(chunks.stderr).toContain("Could not create the chunk directory /proc/zephyr-no-such/chunks: ENOENT: no such file or directory, mkdir '/proc/zephyr-no-such'")
    const output = await zephyr("run", "examples/wordcount.ts", "--workers", "1", "--no-progress", "--chunk-dir", dir, "--arg", "out=/proc/zephyr-no-such/out").catch((e) => e)
    expect(output.code).toBe(1)
    // Not tried again: no retry would find the directory.
    expect(output.stderr).toContain("retries: none")
    expect(output.stderr).toMatch(/zephyr: Stage 1, shard \d: Cannot write the output \/proc\/zephyr-no-such\/out\/counts-\d+-of-4\.jsonl: ENOENT: no such file or directory, mkdir '\/proc\/zephyr-no-such'\. Choose an output path in a directory you can create and write to\./)
  })

  it("takes --arg anywhere, durations and sizes, and runs in-process on request", async () => {
    const { stdout } = await zephyr("run", "--arg", "shards=3", "test/compiler/fixtures/modules/args.ts", "--export", "numbers", "--backend", "in-process",
      "--heartbeat-interval", "500ms", "--heartbeat-timeout", "2s", "--memory-budget", "64MB", "--no-progress", "--print-results")
    expect(stdout.trim().split("\n").map((l) => JSON.parse(l)).sort((a, b) => a.k - b.k)).toEqual([{ k: 0, n: 3 }, { k: 1, n: 3 }])
  })

  it("refuses a bad option value, naming the option", async () => {
    const err = await zephyr("run", "examples/count.ts", "--heartbeat-timeout", "soon", "--no-progress").catch((e) => e)
    expect(err.code).not.toBe(0)
    expect(err.stderr).toContain('Invalid option heartbeatTimeout (--heartbeat-timeout): "soon"')
  })

  it("Ctrl-C (SIGINT) stops the run and kills its workers, keeps its chunks for --resume and says how to resume", async () => {
    const driver = spawn(process.execPath, ["bin/zephyr.js", "run", "test/faults/fixtures/resumable.ts", "--workers", "2", "--chunk-dir", dir, "--arg", `dir=${dir}`, "--arg", "block=1", "--no-progress"], { stdio: ["ignore", "ignore", "pipe"] })
    drivers.push(driver)
    let stderr = ""
    driver.stderr!.on("data", (b) => { stderr += b })
    await waitFor(() => fs.existsSync(path.join(dir, "reached")), "the run to be under way")
    const workers = workersOf(driver.pid!)
    expect(workers.length).toBeGreaterThan(0) // an idle one may already be released (the last stage drains)
    const exited = new Promise<number | null>((resolve) => driver.on("close", (code) => resolve(code)))
    driver.kill("SIGINT")
    expect(await exited).toBe(130)
    await waitFor(() => workers.every((p) => !alive(p)), "the workers to be gone", 10_000)
    const kept = fs.readdirSync(dir).filter((f) => !["reached", "blocked", "stage0.log"].includes(f))
    expect(kept).toHaveLength(1)
    expect(fs.readdirSync(path.join(dir, kept[0]!)).sort()).toEqual(["stage-0", "stages", "zephyr-execution.json"])
    expect(stderr).toContain(`execution ${kept[0]} was interrupted; its completed stages are kept in ${path.join(dir, kept[0]!)}. Resume it with: zephyr run test/faults/fixtures/resumable.ts`)
    expect(stderr).toContain(`--chunk-dir ${dir} --resume ${kept[0]}`)
  })

  it("a failed run keeps its chunks in the per-user default chunk directory, private to the user", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir }
    delete env.ZEPHYR_CHUNK_DIR
    const err = await exec(process.execPath, ["bin/zephyr.js", "run", "test/cli/fixtures/failing.ts", "--workers", "2", "--no-progress"], { encoding: "utf8", env }).catch((e) => e)
    expect(err.code).not.toBe(0)
    const root = path.join(dir, `zephyr-${process.getuid!()}`)
    const chunks = path.join(root, "chunks")
    expect(fs.statSync(root).mode & 0o777).toBe(0o700)
    expect(fs.statSync(chunks).mode & 0o777).toBe(0o700)
    const [kept] = fs.readdirSync(chunks)
    expect(kept).toMatch(/^failing-/)
    expect(err.stderr).toContain(`execution ${kept} failed; its completed stages are kept in ${path.join(chunks, kept!)}. Resume it with: zephyr run test/cli/fixtures/failing.ts --resume ${kept}`)
  })

  it("refuses a default chunk directory that others can write to", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir }
    delete env.ZEPHYR_CHUNK_DIR
    const root = path.join(dir, `zephyr-${process.getuid!()}`)
    fs.mkdirSync(root)
    fs.chmodSync(root, 0o777)
    const err = await exec(process.execPath, ["bin/zephyr.js", "run", "examples/count.ts", "--backend", "in-process", "--no-progress"], { encoding: "utf8", env }).catch((e) => e)
    expect(err.code).not.toBe(0)
    expect(err.stderr).toContain(`Refusing to use the chunk directory ${root}: it is writable by everyone (mode 777)`)
    expect(fs.readdirSync(root)).toEqual([])
  })

  it("the external backend needs an explicit --chunk-dir", async () => {
    const env = { ...process.env }
    delete env.ZEPHYR_CHUNK_DIR
    const err = await exec(process.execPath, ["bin/zephyr.js", "run", "examples/count.ts", "--backend", "external", "--listen", "127.0.0.1:0", "--no-progress"], { encoding: "utf8", env, timeout: 30_000 }).catch((e) => e)
    expect(err.code).not.toBe(0)
    expect(err.stderr).toContain("The external backend needs --chunk-dir (option chunkDir)")
  })

  it("checks the --slurm-* options before submitting anything, naming the flag at fault", async () => {
    const refusal = async (...args: Array<string>) => {
      const err = await zephyr("run", "examples/count.ts", "--chunk-dir", dir, "--no-progress", "--no-check", ...args).catch((e) => e)
      expect(err.code).not.toBe(0)
      return err.stderr as string
    }
    expect(await refusal("--backend", "slurm", "--slurm-mem-per-worker", "2048")).toContain('Invalid option slurm.memoryPerWorker (--slurm-mem-per-worker): "2048"; expected a size with a unit')
    expect(await refusal("--backend", "slurm", "--slurm-time", "soon")).toContain('Invalid option slurm.time (--slurm-time): "soon"')
    // the `--flag=value` form of the repeated option reaches the check too
    expect(await refusal("--backend", "slurm", "--slurm-sbatch-arg=--export=NONE")).toContain("the slurm backend sets --export itself")
    expect(await refusal("--slurm-partition", "gpu")).toContain('slurm.partition (--slurm-partition): only the slurm backend uses it, and this run\'s backend is "local"')
  })
})
