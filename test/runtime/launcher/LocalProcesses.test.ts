import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"
import * as WorkerProcesses from "../../../runtime/launcher/WorkerProcesses.ts"

describe("local worker processes", () => {
  let saved: string | undefined
  beforeEach(() => { saved = process.env.ZEPHYR_TOKEN })
  afterEach(() => { if (saved === undefined) delete process.env.ZEPHYR_TOKEN; else process.env.ZEPHYR_TOKEN = saved })

  it("get no token in their environment or command line (theirs comes on stdin), not even the driver's", async () => {
    process.env.ZEPHYR_TOKEN = "driver-secret-for-external-workers"
    const r = await Zephyr.runModule<{ token: string | null; argv: string; pid: number }>("test/runtime/launcher/fixtures/secrets.ts", { workers: 2 })
    expect(r.results).toHaveLength(2)
    expect(r.results.every((w) => w.pid !== process.pid)).toBe(true)
    expect(r.results.map((w) => w.token)).toEqual([null, null])
    for (const w of r.results) expect(w.argv).not.toMatch(/token|driver-secret/i)
  }, 60_000)

  it("run their tasks with the heap and growth of the budget, and otherwise V8's default flags, as Node's own code cache needs", async () => {
    const budget = 256 * 2 ** 20
    const r = await Zephyr.runModule<{ pid: number; flagHash: number; heapLimitMB: number }>("test/runtime/launcher/fixtures/heap.ts", { workers: 2, memoryBudget: budget })
    expect(r.results).toHaveLength(2)
    // The heap's sizes were reset once the heap was made, the growth set after the engine loaded: the hash is that of the growth alone.
    expect(WorkerProcesses.heapGrowingPercent(budget)).toBe(300)
    const withGrowthOnly = Number(execFileSync(process.execPath, ["--heap-growing-percent=300", "-p", "require('v8').cachedDataVersionTag()"], { encoding: "utf8" }))
    for (const w of r.results) {
      expect(w.pid).not.toBe(process.pid)
      expect(w.flagHash).toBe(withGrowthOnly)
      // --max-old-space-size=384, plus the young generation.
      expect(w.heapLimitMB).toBeGreaterThanOrEqual(WorkerProcesses.heapMegabytes(budget))
      expect(w.heapLimitMB).toBeLessThan(WorkerProcesses.heapMegabytes(budget) + 100)
    }
  }, 60_000)

  it("end by themselves when their run is over, a timer of the module's still pending: their exit handlers run", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-exits-"))
    const marks = path.join(dir, "exits")
    process.env.ZEPHYR_TEST_EXIT_MARKS = marks
    try {
      const r = await Zephyr.runModule<{ n: number; pid: number }>("test/runtime/launcher/fixtures/lingering.ts", { workers: 2 })
      expect(r.results.map((x) => x.n).sort((a, b) => a - b)).toEqual([0, 10])
      // Left to linger, a finished worker had no signal handler left when the driver's
      // SIGTERM came, which killed it before any exit handler ran. (A worker still starting
      // when the run ends is stopped before it runs any code of the module's.)
      const exits = new Map((fs.existsSync(marks) ? fs.readFileSync(marks, "utf8").trim().split("\n") : []).map((l) => l.split(" ").map(Number) as [number, number]))
      const ran = new Set(r.results.map((x) => x.pid))
      expect(ran.size).toBeGreaterThan(0)
      for (const pid of ran) expect([0, 130]).toContain(exits.get(pid))
    } finally {
      delete process.env.ZEPHYR_TEST_EXIT_MARKS
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
