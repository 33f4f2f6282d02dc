import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { fitReport, MAX_ERROR_CHARS, nextBatchSize, reportBytes } from "../../../runtime/worker/Worker.ts"

describe("Worker: batch size it asks for", () => {
  it.each([
    // previous, ms per task -> next
    [1, 0.05, 2], // fast tasks: grows, at most 2x per batch
    [512, 0.05, 1000], // about 50 ms of work
    [1024, 0.001, 1024], // never more than 1024
    [64, 1, 50],
    [64, 10, 5], // slower tasks: fewer at once
    [64, 500, 1], // slow tasks: one at a time
    [8, 0, 16] // a batch that took no measurable time
  ])("after %i tasks at %f ms each: %i", (previous, ms, next) => {
    expect(nextBatchSize(previous, ms)).toBe(next)
  })
})

describe("Worker: reports fit in a message", () => {
  const head = { executionId: "e", stage: 1, generation: 0, shard: 7, attempt: 2, durationMs: 1 }

  it("clips a huge error message and stack", () => {
    const error = new ZephyrWorkerError({ reason: "user-code", message: "m".repeat(1 << 20), cause: "s".repeat(1 << 20) })
    const report = fitReport({ kind: "failed", ...head, counters: {}, error, permanent: false }, 512 << 10)
    if (report.kind !== "failed") throw new Error("expected a failed report")
    expect(report.error.message.length).toBeLessThan(MAX_ERROR_CHARS + 100)
    expect(report.error.message).toContain("more characters")
    expect(report.error.cause!.length).toBeLessThan(MAX_ERROR_CHARS + 100)
    expect(reportBytes(report)).toBeLessThan(512 << 10)
  })

  it("fails the shard of a report that cannot fit (too many counters), saying why", () => {
    const counters = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`counter-${i}`, { agg: "sum" as const, value: 1, count: 1 }]))
    const report = fitReport({ kind: "done", ...head, counters, output: { kind: "chunks", refs: [] } }, 512 << 10)
    expect(report).toMatchObject({ kind: "failed", permanent: true, counters: {}, shard: 7, attempt: 2 })
    expect(report.kind === "failed" && report.error.message).toContain("20000 counters")
    expect(reportBytes(report)).toBeLessThan(512 << 10)
  })

  it("leaves a report that fits alone", () => {
    const report = { kind: "done" as const, ...head, counters: {}, output: { kind: "chunks" as const, refs: [] } }
    expect(fitReport(report, 512 << 10)).toBe(report)
  })
})
