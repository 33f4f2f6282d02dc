import { describe, expect, it } from "vitest"
import { nextBatchSize } from "../../../runtime/worker/Worker.ts"

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
