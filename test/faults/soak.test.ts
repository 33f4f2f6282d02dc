import * as os from "node:os"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Pipeline, Zephyr } from "zephyr"
import { workersOf } from "./Processes.ts"

const module = "test/faults/fixtures/soak.ts"
let dir: string
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-soak-")) })
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

const sorted = <T extends { shop: number }>(rows: ReadonlyArray<T>) => [...rows].sort((a, b) => a.shop - b.shop)

describe("soak", () => {
  it("kills a random worker every ~1.5 s (the first three 0.5 s apart) through a groupBy + join and still gives the fault-free answer", async () => {
    const reference = await Zephyr.run<{ shop: number }, unknown, never>((await Pipeline.load(module, { args: { workMs: "0" } })).dataset as never, { backend: "in-process", workers: 2 })
    const kills: Array<number> = []
    let running = true
    const killer = (async () => {
      while (running) {
        // The first three kills come soon after the workers start, so that a run as fast as
        // the busy loop allows (24 x 200 x 1 ms on three workers) still sees them all.
        await new Promise((r) => setTimeout(r, kills.length < 3 ? 500 : 1_500))
        const pids = workersOf(process.pid)
        if (!running || pids.length === 0) continue
        const victim = pids[Math.floor(Math.random() * pids.length)]!
        try { process.kill(victim, "SIGKILL"); kills.push(victim) } catch { /* already gone */ }
      }
    })()
    const result = await Zephyr.runModule<{ shop: number }>(module, {
      workers: 3, args: { workMs: "1" }, chunkDir: dir,
      heartbeatInterval: "200ms", heartbeatTimeout: "2s", maxWorkerRestarts: 100, maxShardInfraFailures: 50
    }).finally(() => { running = false })
    await killer
    expect(kills.length).toBeGreaterThanOrEqual(3)
    expect(sorted(result.results)).toEqual(sorted(reference.results))
    expect(result.results).toHaveLength(23)
  }, 180_000)
})
