import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { alive, waitFor, workersOf } from "./Processes.ts"

const module = "test/faults/fixtures/resumable.ts"
let dir: string
let chunks: string
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-resume-"))
  chunks = path.join(dir, "chunks")
})
// A test that fails (or times out) before it stops its driver must not leave it running.
const drivers: Array<ChildProcess> = []
afterEach(() => {
  for (const d of drivers.splice(0)) if (d.exitCode === null && d.signalCode === null) d.kill("SIGKILL")
  fs.rmSync(dir, { recursive: true, force: true })
})

interface Ran { readonly code: number | null; readonly stdout: string; readonly stderr: string }

/** `zephyr ARGS` to its end; never throws. */
const zephyr = (args: ReadonlyArray<string>, timeout = 150_000, env: NodeJS.ProcessEnv = process.env): Promise<Ran> =>
  new Promise((resolve) => {
    const child = execFile(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8", timeout, env }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }))
    drivers.push(child)
  })

/** `zephyr run` in the background, its stderr collected. */
const start = (args: ReadonlyArray<string>) => {
  const child = spawn(process.execPath, ["bin/zephyr.js", "run", ...args], { stdio: ["ignore", "pipe", "pipe"] })
  drivers.push(child)
  let stdout = "", stderr = ""
  child.stdout.on("data", (b) => { stdout += b })
  child.stderr.on("data", (b) => { stderr += b })
  const exited = new Promise<Ran>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })))
  return { child, exited }
}

const lines = (file: string) => fs.readFileSync(file, "utf8").trim().split("\n").length
const sorted = (out: string) => out.trim().split("\n").map((l) => JSON.parse(l)).sort((a, b) => a.key - b.key)
const expected = [{ key: 0, sum: 3 }, { key: 1, sum: 5 }, { key: 2, sum: 7 }]

// Real driver and worker processes on a shared 2-core machine: generous time.
describe("resume after the driver dies", { timeout: 240_000 }, () => {
  it("a driver SIGKILLed mid-run leaves no workers behind, and --resume takes over its stale lock and skips the completed stage", async () => {
    const common = [module, "--workers", "2", "--chunk-dir", chunks, "--arg", `dir=${dir}`, "--arg", "block=1", "--no-progress"]
    const driver = spawn(process.execPath, ["bin/zephyr.js", "run", ...common, "--execution-id", "exec-resume"], { stdio: "ignore" })
    drivers.push(driver)
    await waitFor(() => fs.existsSync(path.join(dir, "reached")), "the second stage to start")
    const workers = workersOf(driver.pid!)
    expect(workers.length).toBeGreaterThan(0) // an idle one may already be released (the last stage drains)
    driver.kill("SIGKILL")
    await waitFor(() => workers.every((p) => !alive(p)), "orphaned workers to exit", 30_000)
    expect(lines(path.join(dir, "stage0.log"))).toBe(6)
    expect(fs.existsSync(path.join(chunks, "exec-resume", "stages", "stage-0.json"))).toBe(true)
    // The dead driver's lock is still there: stale, so the resumed run takes it over.
    expect(JSON.parse(fs.readFileSync(path.join(chunks, "exec-resume", "lock"), "utf8")).pid).toBe(driver.pid)

    const resumed = await zephyr(["run", ...common, "--resume", "exec-resume", "--print-results"])
    expect(resumed.code).toBe(0)
    expect(sorted(resumed.stdout)).toEqual(expected)
    expect(lines(path.join(dir, "stage0.log"))).toBe(6) // stage 0 was not run again
    expect(fs.existsSync(path.join(chunks, "exec-resume"))).toBe(false) // removed at the end
  })

  it("Ctrl-C keeps the execution directory and prints the resume command, which completes the run like a fault-free one", async () => {
    const run = start([module, "--workers", "2", "--chunk-dir", chunks, "--arg", `dir=${dir}`, "--arg", "block=1", "--no-progress"])
    await waitFor(() => fs.existsSync(path.join(dir, "reached")), "the second stage to start")
    run.child.kill("SIGINT")
    const stopped = await run.exited
    expect(stopped.code).toBe(130)
    const [id] = fs.readdirSync(chunks)
    expect(id).toMatch(/^resumable-/)
    const kept = path.join(chunks, id!)
    expect(fs.existsSync(path.join(kept, "zephyr-execution.json"))).toBe(true)
    expect(fs.existsSync(path.join(kept, "stages", "stage-0.json"))).toBe(true)
    expect(fs.existsSync(path.join(kept, "lock"))).toBe(false) // released
    const command = /Resume it with: (zephyr run .*)$/m.exec(stopped.stderr)?.[1]
    expect(command).toBeDefined()
    expect(command).toContain(`--resume ${id}`)

    const words = command!.split(" ")
    const resumed = await zephyr([...words.slice(1), "--print-results"])
    expect(resumed.code).toBe(0)
    expect(lines(path.join(dir, "stage0.log"))).toBe(6) // stage 0 was not run again
    expect(fs.existsSync(kept)).toBe(false) // success removes the directory

    const clean = path.join(dir, "clean")
    fs.mkdirSync(clean)
    const faultFree = await zephyr(["run", module, "--backend", "in-process", "--chunk-dir", chunks, "--arg", `dir=${clean}`, "--print-results", "--no-progress"])
    expect(faultFree.code).toBe(0)
    expect(sorted(resumed.stdout)).toEqual(sorted(faultFree.stdout))
    expect(sorted(resumed.stdout)).toEqual(expected)
  })

  it("a second driver cannot resume an execution a live driver holds: it fails naming that driver's pid", async () => {
    const common = [module, "--workers", "1", "--chunk-dir", chunks, "--arg", `dir=${dir}`, "--arg", "block=1", "--arg", "gate=1", "--no-progress"]
    const first = start([...common, "--execution-id", "held"])
    await waitFor(() => fs.existsSync(path.join(dir, "reached")), "the first driver to be under way")
    const second = await zephyr(["run", ...common, "--resume", "held"])
    expect(second.code).not.toBe(0)
    expect(second.stderr).toContain(`in use by another driver: pid ${first.child.pid} on this host`)
    fs.writeFileSync(path.join(dir, "go"), "")
    const done = await first.exited
    expect(done.code).toBe(0) // the refused driver touched nothing of the first one's
    expect(fs.existsSync(path.join(chunks, "held"))).toBe(false)
  })

  it("a directory without Zephyr's marker is never adopted nor removed, even when a run under it succeeds", async () => {
    // An existing directory that Zephyr did not create: refused.
    const foreign = path.join(chunks, "foreign")
    fs.mkdirSync(foreign, { recursive: true })
    fs.writeFileSync(path.join(foreign, "precious"), "x")
    for (const flag of ["--execution-id", "--resume"]) {
      const refused = await zephyr(["run", module, "--workers", "1", "--chunk-dir", chunks, "--arg", `dir=${dir}`, "--no-progress", flag, "foreign"])
      expect(refused.code).not.toBe(0)
      expect(refused.stderr).toContain("is not a Zephyr execution")
      expect(fs.readdirSync(foreign)).toEqual(["precious"])
    }
    // The marker disappears while a run is under way: its success keeps the directory.
    const run = start([module, "--workers", "1", "--chunk-dir", chunks, "--arg", `dir=${dir}`, "--arg", "block=1", "--arg", "gate=1", "--no-progress", "--execution-id", "unmarked"])
    await waitFor(() => fs.existsSync(path.join(dir, "reached")), "the run to be under way")
    fs.rmSync(path.join(chunks, "unmarked", "zephyr-execution.json"))
    fs.writeFileSync(path.join(dir, "go"), "")
    const done = await run.exited
    expect(done.code).toBe(0)
    expect(done.stderr).toContain("is kept because it no longer carries the zephyr-execution.json marker")
    expect(fs.existsSync(path.join(chunks, "unmarked", "stages"))).toBe(true)
  })
})

describe("--resume ID names an execution right inside the chunk directory, and an existing one", { timeout: 180_000 }, () => {
  it("refuses ids that are paths, empty or too long, and touches nothing outside the chunk directory", async () => {
    const victim = path.join(dir, "victim")
    fs.mkdirSync(victim)
    fs.writeFileSync(path.join(victim, "precious"), "x")
    fs.mkdirSync(chunks)
    fs.writeFileSync(path.join(chunks, "precious"), "x")
    for (const id of ["../victim", victim, "..", ".", "", "a/b", "x".repeat(129)]) {
      const refused = await zephyr(["run", "examples/count.ts", "--backend", "in-process", "--chunk-dir", chunks, "--no-progress", "--resume", id])
      expect(refused.code, id).not.toBe(0)
      expect(refused.stderr, id).toContain("Invalid option resume")
      expect(refused.stderr, id).toContain("expected an execution id of 1 to 128 letters, digits, '_' or '-'")
      expect(fs.readdirSync(victim)).toEqual(["precious"])
      expect(fs.readdirSync(chunks)).toEqual(["precious"])
    }
  })

  it("fails clearly on an id that is not in the chunk directory, instead of starting afresh", async () => {
    fs.mkdirSync(chunks)
    const unknown = await zephyr(["run", "examples/count.ts", "--backend", "in-process", "--chunk-dir", chunks, "--no-progress", "--print-results", "--resume", "count-0123abcd-nothere"])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stdout).toBe("")
    expect(unknown.stderr).toContain(`There is no execution "count-0123abcd-nothere" to resume in the chunk directory ${chunks}`)
    expect(fs.readdirSync(chunks)).toEqual([])
  })
})

// Stage 0 reads the words and scatters them (logging each), stage 1 is the groupBy's reduce
// (logging each word), stage 2 the reshard (the coordinator's) and stage 3 a map that fails
// while the `fail` file exists (logging each row otherwise).
const pipeline = [
  `import * as fs from "node:fs"`,
  `import * as path from "node:path"`,
  `import { Dataset } from "zephyr"`,
  `import { score } from "./score.ts"`,
  ``,
  `const logged = (dir: string, stage: string, line: string) => fs.appendFileSync(path.join(dir, stage + ".log"), line + "\\n")`,
  ``,
  `export default (args: Record<string, string>) =>`,
  `  Dataset.readText(\`\${args.input}/*.txt\`)`,
  `    .map((word) => { logged(args.dir!, "stage0", word); return { word, score: score(word) } })`,
  `    .groupBy((r) => r.word, (word, rs) => { logged(args.dir!, "stage1", word); let total = 0; for (const r of rs) total += r.score; return { word, total } }, { numOutputShards: 2 })`,
  `    .reshard(1)`,
  `    .map((r) => { if (fs.existsSync(path.join(args.dir!, "fail"))) throw new Error("failing on purpose"); logged(args.dir!, "stage3", r.word); return r })`,
  ``
].join("\n")

describe("a resumed run never reuses stale results", { timeout: 180_000 }, () => {
  // The module lives inside the project (it imports "zephyr"), in a scratch folder the test edits.
  let project: string
  let input: string
  beforeEach(() => {
    fs.mkdirSync(".zephyr", { recursive: true })
    project = fs.mkdtempSync(path.join(".zephyr", "resume-test-"))
    input = path.join(dir, "input")
    fs.mkdirSync(input)
    fs.writeFileSync(path.join(input, "a.txt"), "apple\nbanana\napple\n")
    fs.writeFileSync(path.join(input, "b.txt"), "cherry\nbanana\n")
    fs.writeFileSync(path.join(project, "score.ts"), "export const score = (word: string): number => word.length\n")
    fs.writeFileSync(path.join(project, "pipe.ts"), pipeline)
  })
  afterEach(() => fs.rmSync(project, { recursive: true, force: true }))

  const id = "stale-check"
  const module = () => path.join(project, "pipe.ts")
  const args = () => [module(), "--backend", "in-process", "--chunk-dir", chunks, "--arg", `dir=${dir}`, "--arg", `input=${input}`, "--no-progress"]
  const stage0Calls = () => lines(path.join(dir, "stage0.log"))
  const stage1Calls = () => lines(path.join(dir, "stage1.log"))
  const inputLines = () => fs.readdirSync(input).flatMap((f) => fs.readFileSync(path.join(input, f), "utf8").trim().split("\n"))
  const inputWords = () => inputLines().length
  const totals = (out: string) => Object.fromEntries(out.trim().split("\n").map((l) => JSON.parse(l)).map((r) => [r.word, r.total]))

  // How the resume log names a stage: its first DSL call, where the module has it now.
  const where = (text: string) => `${module()}:${fs.readFileSync(module(), "utf8").split("\n").findIndex((l) => l.includes(text)) + 1}`
  const stage0 = () => `stage 0 (readText at ${where("Dataset.readText")})`
  const stage1 = () => `stage 1 (groupBy at ${where(".groupBy(")})`

  /** Replaces `from` by `to` in the pipeline module. */
  const edit = (from: string, to: string) => () => {
    const text = fs.readFileSync(module(), "utf8")
    expect(text).toContain(from)
    fs.writeFileSync(module(), text.replace(from, to))
  }

  /** A first run that completes stages 0 (scatter) and 1 (reduce) and then fails in stage 3; `change`; then --resume. */
  const failThenResume = async (change: () => void, resumeArgs: ReadonlyArray<string> = []): Promise<Ran> => {
    fs.writeFileSync(path.join(dir, "fail"), "")
    const failed = await zephyr(["run", ...args(), "--max-shard-failures", "1", "--execution-id", id])
    expect(failed.code).not.toBe(0)
    expect(failed.stderr).toContain("failing on purpose")
    expect(failed.stderr).toContain(`--resume ${id}`)
    expect(stage0Calls()).toBe(inputWords())
    expect(stage1Calls()).toBe(new Set(inputLines()).size)
    change()
    fs.rmSync(path.join(dir, "fail"))
    // At info level, as without --no-progress: the log says which stages are skipped too.
    const resumed = await zephyr(["run", ...args(), ...resumeArgs, "--resume", id, "--print-results"], 150_000, { ...process.env, ZEPHYR_LOG_LEVEL: "info" })
    expect(resumed.code).toBe(0)
    expect(fs.existsSync(path.join(chunks, id))).toBe(false)
    return resumed
  }

  /** The totals of a fault-free run of the module as it is now, in directories of its own. */
  const faultFree = async (extraArgs: ReadonlyArray<string> = []) => {
    const clean = fs.mkdtempSync(path.join(dir, "clean-"))
    const ran = await zephyr(["run", module(), "--backend", "in-process", "--chunk-dir", path.join(clean, "chunks"), "--arg", `dir=${clean}`, "--arg", `input=${input}`, ...extraArgs, "--no-progress", "--print-results"])
    expect(ran.code).toBe(0)
    return totals(ran.stdout)
  }

  it("skips stages 0 and 1 when nothing changed", async () => {
    const resumed = await failThenResume(() => {})
    expect(stage0Calls()).toBe(5)
    expect(stage1Calls()).toBe(3)
    expect(resumed.stderr).toContain(`${stage0()} already completed in ${id}; skipping it`)
    expect(resumed.stderr).toContain(`${stage1()} already completed in ${id}; skipping it`)
    expect(resumed.stderr).not.toContain("runs again")
    expect(totals(resumed.stdout)).toEqual({ apple: 10, banana: 12, cherry: 6 })
  })

  it("reruns only the last stage when only its function changed: the stages before it are reused", async () => {
    const resumed = await failThenResume(edit(`logged(args.dir!, "stage3", r.word); return r })`, `logged(args.dir!, "stage3", r.word); return { ...r, total: r.total * 2 } })`))
    expect(stage0Calls()).toBe(5)
    expect(stage1Calls()).toBe(3)
    expect(resumed.stderr).toContain(`${stage0()} already completed in ${id}; skipping it`)
    expect(resumed.stderr).toContain(`${stage1()} already completed in ${id}; skipping it`)
    expect(resumed.stderr).not.toContain("runs again")
    expect(totals(resumed.stdout)).toEqual({ apple: 20, banana: 24, cherry: 12 })
    expect(totals(resumed.stdout)).toEqual(await faultFree())
  })

  it("reruns a groupBy's reduce stage whose reducer changed, saying so, and not the stage before it", async () => {
    const resumed = await failThenResume(edit("total += r.score", "total += r.score * 3"))
    expect(stage0Calls()).toBe(5)
    expect(stage1Calls()).toBe(6)
    expect(resumed.stderr).toContain(`${stage0()} already completed in ${id}; skipping it`)
    expect(resumed.stderr).toContain(`${stage1()} of ${id} runs again: its code changed`)
    expect(totals(resumed.stdout)).toEqual({ apple: 30, banana: 36, cherry: 18 })
    expect(totals(resumed.stdout)).toEqual(await faultFree())
  })

  it("reruns every stage after the first when the first stage's function changed", async () => {
    const resumed = await failThenResume(edit("score: score(word) }", "score: score(word) + 1 }"))
    expect(stage0Calls()).toBe(10)
    expect(stage1Calls()).toBe(6)
    expect(resumed.stderr).toContain(`${stage0()} of ${id} runs again: its code changed`)
    expect(resumed.stderr).toContain(`${stage1()} of ${id} runs again: stage 0, which it reads, changed`)
    expect(totals(resumed.stdout)).toEqual({ apple: 12, banana: 14, cherry: 7 })
    expect(totals(resumed.stdout)).toEqual(await faultFree())
  })

  it("reruns nothing when only comments and formatting changed", async () => {
    const resumed = await failThenResume(() => {
      edit("export default", "// Words, scored and summed.\nexport default")()
      edit(".map((word) => { logged(", ".map(word => {\n      /* every word */ logged(")()
      edit("{ numOutputShards: 2 })", "{ numOutputShards: 2, },)")()
      edit('"stage1", word); let total = 0;', "'stage1', word)\n      let total = 0\n     ")()
    })
    expect(stage0Calls()).toBe(5)
    expect(stage1Calls()).toBe(3)
    expect(resumed.stderr).toContain(`${stage0()} already completed in ${id}; skipping it`)
    expect(resumed.stderr).toContain(`${stage1()} already completed in ${id}; skipping it`)
    expect(resumed.stderr).not.toContain("runs again")
    expect(totals(resumed.stdout)).toEqual(await faultFree())
  })

  it("reruns every stage when an --arg changed, as the arguments may reach any function", async () => {
    const resumed = await failThenResume(() => {}, ["--arg", "tag=b"])
    expect(stage0Calls()).toBe(10)
    expect(stage1Calls()).toBe(6)
    expect(resumed.stderr).toContain(`${stage0()} of ${id} runs again: the pipeline's arguments changed: --arg tag is new`)
    expect(resumed.stderr).toContain(`${stage1()} of ${id} runs again: the pipeline's arguments changed: --arg tag is new`)
    expect(totals(resumed.stdout)).toEqual(await faultFree(["--arg", "tag=b"]))
  })

  it("reruns stage 0 when a function body in a local file of the module changed: the fingerprint covers it", async () => {
    const fingerprint = async () => /fingerprint (\w+)/.exec((await zephyr(["compile", module(), "--arg", `input=${input}`])).stdout)?.[1]
    const before = await fingerprint()
    const resumed = await failThenResume(() => fs.writeFileSync(path.join(project, "score.ts"), "export const score = (word: string): number => word.length * 10\n"))
    const after = await fingerprint()
    expect(after).toMatch(/^[0-9a-f]{16}$/)
    expect(after).not.toBe(before)
    expect(resumed.stderr).toContain(`${stage0()} of ${id} runs again: its code changed`)
    expect(resumed.stderr).toContain(`${stage1()} of ${id} runs again: stage 0, which it reads, changed`)
    expect(stage0Calls()).toBe(10)
    expect(totals(resumed.stdout)).toEqual({ apple: 100, banana: 120, cherry: 60 })
  })

  it("reruns stage 0 when an input file changed size, and the stage that reads it", async () => {
    const resumed = await failThenResume(() => fs.appendFileSync(path.join(input, "b.txt"), "cherry\n"))
    expect(resumed.stderr).toContain(`${stage0()} of ${id} runs again: its input files changed: `)
    expect(resumed.stderr).toMatch(/its input files changed: \S*b\.txt changed size \(14 → 21 bytes\)/)
    expect(resumed.stderr).toContain(`${stage1()} of ${id} runs again: stage 0, which it reads, ran again`)
    expect(stage0Calls()).toBe(11)
    expect(totals(resumed.stdout)).toEqual({ apple: 10, banana: 12, cherry: 12 })
  })

  it("reruns stage 0 when an input file was modified without changing size", async () => {
    const resumed = await failThenResume(() => {
      fs.writeFileSync(path.join(input, "a.txt"), "apple\nbanana\nmango\n")
      fs.utimesSync(path.join(input, "a.txt"), new Date(2_000_000_000_000), new Date(2_000_000_000_000))
    })
    expect(resumed.stderr).toContain(`${stage0()} of ${id} runs again: its input files changed: `)
    expect(resumed.stderr).toMatch(/its input files changed: \S*a\.txt was modified/)
    expect(stage0Calls()).toBe(10)
    expect(totals(resumed.stdout)).toEqual({ apple: 5, banana: 12, cherry: 6, mango: 5 })
  })

  const firstFile = (stageDir: string, suffix: string): string => {
    const file = (fs.readdirSync(stageDir, { recursive: true }) as Array<string>).filter((f) => f.endsWith(suffix)).sort()[0]
    expect(file).toBeDefined()
    return path.join(stageDir, file!)
  }

  it("reruns a stage one of whose chunk files is gone, and only from there", async () => {
    // Enough distinct words that the reduce's output goes to chunk files rather than inline.
    fs.writeFileSync(path.join(input, "c.txt"), Array.from({ length: 300 }, (_, i) => `w${i}`).join("\n") + "\n")
    const resumed = await failThenResume(() => fs.rmSync(firstFile(path.join(chunks, id, "stage-1"), ".blk")))
    expect(resumed.stderr).toContain(`${stage0()} already completed in ${id}; skipping it`)
    expect(resumed.stderr).toMatch(new RegExp(`stage 1 \\(groupBy at \\S+\\) of ${id} runs again: its chunk file \\S+ is missing`))
    expect(stage0Calls()).toBe(305) // stage 0 was still valid
    expect(totals(resumed.stdout)).toMatchObject({ apple: 10, banana: 12, cherry: 6, w0: 2, w299: 4 })
  })

  it("reruns a scatter stage one of whose shuffle runs is gone", async () => {
    const resumed = await failThenResume(() => fs.rmSync(firstFile(path.join(chunks, id, "stage-0"), ".zrun")))
    expect(resumed.stderr).toContain(`${stage0()} of ${id} runs again: its shuffle run `)
    expect(resumed.stderr).toMatch(/its shuffle run \S+ is missing or truncated/)
    expect(stage0Calls()).toBe(10)
    expect(totals(resumed.stdout)).toEqual({ apple: 10, banana: 12, cherry: 6 })
  })
})
