import { spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import * as HeapGrowth from "../../../runtime/worker/HeapGrowth.ts"

const MiB = 2 ** 20

/** Runs the fixture under the default budget's heap limit; its count of full collections. */
const fullCollections = (apply: boolean): Promise<number> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--max-old-space-size=384", "--import", "tsx", "test/runtime/worker/fixtures/heap-growth.ts", ...(apply ? ["apply"] : [])], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (b) => { out += b })
    child.on("error", reject)
    child.on("close", (code) => code === 0 ? resolve((JSON.parse(out) as { fullCollections: number }).fullCollections) : reject(new Error(`the fixture exited with ${code}`)))
  })

describe("HeapGrowth: how far a worker's old generation grows before a full collection", () => {
  const table: ReadonlyArray<readonly [string, number, number | undefined]> = [
    ["the default budget (256 MiB): 4x, V8's own for large heaps", 256 * MiB, 300],
    ["a large budget: still 4x", 4096 * MiB, 300],
    ["192 MiB: 3x", 192 * MiB, 200],
    ["128 MiB: 2x", 128 * MiB, 100],
    ["just under 128 MiB: V8's own", 127 * MiB, undefined],
    ["64 MiB: V8's own, the engine takes most of the room over the budget", 64 * MiB, undefined]
  ]
  for (const [name, budget, percent] of table) it(name, () => { expect(HeapGrowth.percent(budget)).toBe(percent) })

  it("set at run time, it spares a process that promotes short-lived rows most of its full collections", async () => {
    const [without, applied] = await Promise.all([fullCollections(false), fullCollections(true)])
    expect(without).toBeGreaterThanOrEqual(applied + 2)
  }, 60_000)
})
