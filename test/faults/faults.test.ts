import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"
import { expected, type Total } from "./fixtures/faulty.ts"

// Faults injected for real into worker processes (the local backend), each run compared
// with the fault-free answer.
const module = "test/faults/fixtures/faulty.ts"
let dir: string
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-fault-")) })
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

const attempts = () => (fs.existsSync(path.join(dir, "attempts.log")) ? fs.readFileSync(path.join(dir, "attempts.log"), "utf8").trim().split("\n") : [])
const totals = (results: ReadonlyArray<Total>) => results.map(({ key, total }) => ({ key, total })).sort((a, b) => a.key - b.key)

const run = (fault: string, options: Zephyr.RunOptions = {}, args: Record<string, string> = {}) =>
  Zephyr.runModule<Total>(module, {
    workers: 2,
    heartbeatInterval: "200ms",
    heartbeatTimeout: "1500ms",
    chunkDir: path.join(dir, "chunks"),
    args: { dir, fault, ...args },
    ...options
  })

describe("faults with real worker processes", () => {
  it("a worker SIGKILLed mid-task: its shard is re-run elsewhere, same output", async () => {
    const r = await run("kill")
    expect(totals(r.results)).toEqual(expected())
    expect(attempts().length).toBe(2)
    expect(r.counters.records).toBe(4000)
  })

  it("a worker SIGKILLed while writing its shuffle output: same output", async () => {
    const r = await run("kill-scatter")
    expect(totals(r.results)).toEqual(expected())
    expect(fs.existsSync(path.join(dir, "killed-scatter"))).toBe(true)
  })

  it("a task that fails once then succeeds runs exactly twice", async () => {
    const r = await run("fail-once", { heartbeatTimeout: "60s" })
    expect(totals(r.results)).toEqual(expected())
    expect(attempts().length).toBe(2)
  })

  it("a poison record stops the run after the failure budget, with no retry storm", async () => {
    const err = await run("poison", { heartbeatTimeout: "60s", maxShardFailures: 3 }).catch((e) => e)
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain("poison record 3")
    expect(err.message).toMatch(/Shard 3 of stage 0 failed 3 times \(max 3\)/)
    expect(attempts().length).toBe(3) // user errors are never retried as a whole pipeline
  })

  it("a stopped (SIGSTOP) worker misses its heartbeats and its shard moves on", async () => {
    const r = await run("stop")
    expect(totals(r.results)).toEqual(expected())
    expect(attempts().length).toBe(2)
  })

  it("a late report from a worker whose shard was re-assigned is ignored (no double counting)", async () => {
    const r = await run("late", {}, { blockMs: "4000" })
    expect(totals(r.results)).toEqual(expected())
    expect(attempts().length).toBe(2) // the blocked attempt and its re-run elsewhere
    expect(r.counters.records).toBe(4000)
  })

  it("all workers stopped: the run fails with no alive workers within the timeout, without pipeline retries", async () => {
    const err = await run("stop-all", { noWorkersTimeout: "2s" }).catch((e) => e)
    expect(err).toMatchObject({ _tag: "ZephyrWorkerError", reason: "no-workers" })
    expect(err.message).toMatch(/No alive workers for \d+s \(noWorkersTimeout 2s\)/)
    // one pool of two workers stopped itself; a retry would have started (and stopped) another
    expect(fs.readdirSync(dir).filter((f) => f.startsWith("stopped-"))).toHaveLength(2)
  })

  it("all workers killed and out of restarts: the run fails at once, not after a timeout, without pipeline retries", async () => {
    const err = await run("kill-all", { noWorkersTimeout: "10m", heartbeatTimeout: "60s", maxWorkerRestarts: 1 }).catch((e) => e)
    expect(err).toMatchObject({ _tag: "ZephyrWorkerError", reason: "no-workers" })
    expect(err.message).toMatch(/worker pool terminated permanently/)
  })
})
