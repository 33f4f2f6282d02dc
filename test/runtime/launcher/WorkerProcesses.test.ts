import { spawnSync } from "node:child_process"
import { describe, expect, it } from "vitest"
import * as WorkerProcesses from "../../../runtime/launcher/WorkerProcesses.ts"

const MiB = 2 ** 20

describe("WorkerProcesses: a worker's V8 heap from its memory budget", () => {
  const table: ReadonlyArray<readonly [string, number, ReadonlyArray<string>, string]> = [
    ["the default budget (256 MiB): V8's young generation, 4x growth", 256 * MiB, ["--max-old-space-size=384"], "300"],
    ["a large budget", 4096 * MiB, ["--max-old-space-size=4224"], "300"],
    ["a 128 MiB budget: 2x growth", 128 * MiB, ["--max-old-space-size=256", "--max-semi-space-size=8"], "100"],
    ["a 64 MiB budget: a 4 MiB semi-space, so its resident memory is not young garbage", 64 * MiB, ["--max-old-space-size=256", "--max-semi-space-size=4"], ""],
    ["a 16 MiB budget: 1 MiB", 16 * MiB, ["--max-old-space-size=256", "--max-semi-space-size=1"], ""],
    ["a tiny budget: never below 1 MiB", 1 * MiB, ["--max-old-space-size=256", "--max-semi-space-size=1"], ""],
    ["just under 256 MiB: 15 MiB, 3.98x growth", 255 * MiB, ["--max-old-space-size=383", "--max-semi-space-size=15"], "298"]
  ]
  for (const [name, budget, flags, growth] of table) {
    it(name, () => {
      expect(WorkerProcesses.heapFlags(budget)).toEqual(flags)
      // Empty: V8's own, whatever the driver's environment says.
      expect(WorkerProcesses.heapEnvironment(budget)).toEqual({ ZEPHYR_HEAP_GROWING_PERCENT: growth })
    })
  }

  const growth: ReadonlyArray<readonly [string, number, number | undefined]> = [
    ["the default budget (256 MiB): 4x, V8's own for large heaps", 256 * MiB, 300],
    ["a large budget: still 4x", 4096 * MiB, 300],
    ["192 MiB: 3x", 192 * MiB, 200],
    ["128 MiB: 2x", 128 * MiB, 100],
    ["just under 128 MiB: V8's own", 127 * MiB, undefined],
    ["64 MiB: V8's own, the engine takes most of the room over the budget", 64 * MiB, undefined]
  ]
  for (const [name, budget, percent] of growth) it(`growth: ${name}`, () => { expect(WorkerProcesses.heapGrowingPercent(budget)).toBe(percent) })

  it("Node starts with the heap's sizes on its command line, and in NODE_OPTIONS (a Kubernetes pod's)", () => {
    for (const budget of [16 * MiB, 64 * MiB, 128 * MiB, 256 * MiB, 4096 * MiB]) {
      const flags = WorkerProcesses.heapFlags(budget)
      const direct = spawnSync(process.execPath, [...flags, "-e", "0"], { encoding: "utf8" })
      expect(direct.stderr).toBe("")
      expect(direct.status).toBe(0)
      const viaEnv = spawnSync(process.execPath, ["-e", "0"], { encoding: "utf8", env: { ...process.env, NODE_OPTIONS: flags.join(" ") } })
      expect(viaEnv.stderr).toBe("")
      expect(viaEnv.status).toBe(0)
    }
  })
})

describe("WorkerProcesses: how a local worker's hot code is optimised, from the pool's size and the cores", () => {
  const table: ReadonlyArray<readonly [string, number, number, ReadonlyArray<string>]> = [
    ["a worker per core: TurboFan on the worker's own thread", 2, 2, ["--no-concurrent-recompilation"]],
    ["more workers than cores: the same", 3, 2, ["--no-concurrent-recompilation"]],
    ["a core to spare: V8's helper threads", 1, 2, []],
    ["a large machine, a small pool: V8's helper threads", 2, 8, []]
  ]
  for (const [name, pool, cores, flags] of table) it(name, () => { expect(WorkerProcesses.compilerFlags(pool, cores)).toEqual(flags) })

  /** The modes of the TurboFan compiles of a process with these flags that makes one function hot. */
  const compileModes = (flags: ReadonlyArray<string>): ReadonlyArray<string> => {
    const hot = "function hot(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s }; let t = 0; for (let k = 0; k < 3000; k++) t += hot(1000)"
    const run = spawnSync(process.execPath, [...flags, "--trace-opt", "-e", hot], { encoding: "utf8" })
    expect(run.status).toBe(0)
    return [...new Set(run.stdout.split("\n").flatMap((l) => l.startsWith("[compiling method") ? [/ConcurrencyMode::(\w+)/.exec(l)?.[1] ?? "?"] : []))]
  }

  it("Node starts with the flag, and then compiles hot code on the main thread only", () => {
    expect(compileModes(WorkerProcesses.compilerFlags(2, 2))).toEqual(["kSynchronous"])
    expect(compileModes(WorkerProcesses.compilerFlags(1, 2))).toContain("kConcurrent")
  })
})
