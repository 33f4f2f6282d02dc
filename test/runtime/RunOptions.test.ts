import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as RunOptions from "../../runtime/RunOptions.ts"

let saved: string | undefined
beforeEach(() => { saved = process.env.ZEPHYR_CHUNK_DIR; delete process.env.ZEPHYR_CHUNK_DIR })
afterEach(() => { if (saved === undefined) delete process.env.ZEPHYR_CHUNK_DIR; else process.env.ZEPHYR_CHUNK_DIR = saved })

describe("RunOptions.resolve", () => {
  it("defaults the chunk directory to a per-user one under the temp dir, not a shared one", () => {
    const resolved = RunOptions.resolve({}, "local")
    expect(resolved.chunkDir).toBe(path.join(os.tmpdir(), `zephyr-${process.getuid?.() ?? os.userInfo().username}`, "chunks"))
    expect(resolved.chunkDir).not.toBe(path.join(os.tmpdir(), "zephyr-chunks"))
  })

  it("requires a chunk directory for the external backend", () => {
    expect(() => RunOptions.resolve({ backend: "external" }, "local")).toThrow(expect.objectContaining({
      _tag: "ZephyrPlanError", reason: "invalid-option", message: expect.stringContaining("The external backend needs --chunk-dir")
    }))
    expect(RunOptions.resolve({ backend: "external", chunkDir: "/shared/chunks" }, "local").chunkDir).toBe("/shared/chunks")
  })

  it.each(["../victim", "/tmp/victim", "..", ".", "", "a/b", "x".repeat(129), "a b"])("refuses the execution id %j for resume and executionId", (id) => {
    for (const option of ["resume", "executionId"] as const) {
      expect(() => RunOptions.resolve({ chunkDir: "/chunks", [option]: id }, "local")).toThrow(expect.objectContaining({
        reason: "invalid-option", message: expect.stringContaining(`Invalid option ${option}`)
      }))
    }
  })

  it("takes resume as the run's id, to be found, and executionId as a name", () => {
    expect(RunOptions.resolve({ resume: "run-1" }, "local")).toMatchObject({ executionId: "run-1", resume: true })
    expect(RunOptions.resolve({ executionId: "run-1" }, "local")).toMatchObject({ executionId: "run-1", resume: false })
    expect(() => RunOptions.resolve({ executionId: "a", resume: "b" }, "local")).toThrow(/Invalid option executionId/)
  })

  it("parses durations in days", () => {
    expect(RunOptions.parseDuration("older-than", "7d")).toBe(7 * 86_400_000)
  })
})
