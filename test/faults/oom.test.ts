import * as os from "node:os"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"

let dir: string
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-oom-")) })
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("out of memory, with a real worker process", () => {
  it("a map that allocates without bound: the shard that ran its worker out of memory 3 times fails the run, named, without retries", async () => {
    const err = await Zephyr.runModule("test/faults/fixtures/oom.ts", {
      workers: 1,
      memoryBudget: "16MB", // the smallest worker heap, 256 MB
      heartbeatTimeout: "60s",
      chunkDir: path.join(dir, "chunks")
    }).catch((e) => e)
    expect(err).toMatchObject({ _tag: "ZephyrWorkerError", reason: "out-of-memory", stage: 0, shard: 2 })
    expect(err.message).toMatch(/^Shard 2 of stage 0 ran out of memory: a worker holding it hit its V8 heap limit 3 times \(max 3\)/)
    expect(err.message).toContain("--memory-budget")
  }, 180_000)
})
