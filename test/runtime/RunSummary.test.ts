import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../plan/Errors.ts"
import type { Report } from "../../rpc/Protocol.ts"
import { defaults, Scheduler } from "../../runtime/coordinator/Scheduler.ts"
import * as StatusSnapshot from "../../runtime/coordinator/StatusSnapshot.ts"
import * as RunSummary from "../../runtime/RunSummary.ts"
import * as BlockFile from "../../runtime/storage/BlockFile.ts"

const EXEC = "pipe-1"

/** A resumed stage 0, then a write stage that retried one shard after a user error. */
const finished = () => {
  const s = new Scheduler(EXEC, { ...defaults, startupGraceMs: 0 })
  s.skipStage(0, 2, "completed by an earlier run", 0)
  s.register("w1", 0)
  s.startStage(1, [0, 1].map((index) => ({ input: { kind: "list" as const, index } })), true, 100)
  s.pull("w1", [], 2, 100)
  const head = { executionId: EXEC, stage: 1, generation: s.generation, durationMs: 1 }
  const done = (shard: number, attempt: number): Report => ({
    ...head, kind: "done", shard, attempt, counters: { "rows/kept": { agg: "sum", value: 10, count: 1 } },
    output: { kind: "chunks", refs: [BlockFile.inline([`/out/part-${shard}.jsonl`])] }, commit: { pending: `/out/.p${shard}`, target: `/out/part-${shard}.jsonl` },
    io: { recordsIn: 1_500, bytesIn: 3_000_000, recordsOut: 1_000, bytesOut: 250_000 }
  })
  s.pull("w1", [
    { ...head, kind: "failed", shard: 1, attempt: 0, counters: {}, permanent: false, error: new ZephyrWorkerError({ reason: "user-code", message: "map(parse) at pipe.ts:7 threw: bad row", file: "pipe.ts", line: 7 }) },
    done(0, 0)
  ], 1, 900)
  s.pull("w1", [done(1, 1)], 0, 2_100)
  return StatusSnapshot.of(s, 2_100, [{ id: 0, kind: "map" }, { id: 1, kind: "reduce" }])
}

describe("RunSummary", () => {
  it("holds, per stage, the wall time, records and bytes in and out, counters and retries; the retries' causes; where the outputs went", () => {
    const summary = RunSummary.of(finished(), "succeeded")
    expect(summary).toMatchObject({
      executionId: EXEC, outcome: "succeeded", wallMs: 2_100,
      retries: { total: 1, byCause: { "user-error": 1 } },
      outputs: { files: 2, dirs: [{ dir: "/out", files: 2 }], otherFiles: 0, results: 2_000 },
      failure: null
    })
    expect(summary.stages.map((s) => [s.id, s.state, s.wallMs, s.recordsIn, s.bytesIn, s.recordsOut, s.bytesOut, s.retries, s.counters])).toEqual([
      [0, "skipped", 0, 0, 0, 0, 0, 0, {}],
      [1, "done", 2_000, 3_000, 6_000_000, 2_000, 500_000, 1, { "rows/kept": 20 }]
    ])
  })

  it("prints as a table, then the retries with file:line, then the outputs", () => {
    expect(RunSummary.format(RunSummary.of(finished(), "succeeded"))).toBe([
      "summary of pipe-1: succeeded in 2.10s",
      "  stage  kind    shards  time                                   records in  bytes in  records out  bytes out  retries",
      "  1/2    map          2  skipped (completed by an earlier run)           0       0 B            0        0 B        0",
      "  2/2    reduce       2  2.00s                                       3.00k   6.00 MB        2.00k     500 kB        1",
      "  retries: 1 (1 user-error)",
      "    stage 2/2: 1x user-error at pipe.ts:7: map(parse) at pipe.ts:7 threw: bad row",
      "  outputs: 2 file(s) in /out (2)",
      ""
    ].join("\n"))
  })

  it("a failed run says what failed it", () => {
    const text = RunSummary.format(RunSummary.of(finished(), "failed", "Shard 3 of stage 1 failed 3 times"))
    expect(text).toContain("summary of pipe-1: failed after 2.10s")
    expect(text).toContain("  failure: Shard 3 of stage 1 failed 3 times")
  })
})
