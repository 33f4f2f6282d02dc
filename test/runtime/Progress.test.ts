import { describe, expect, it } from "vitest"
import type { Report } from "../../rpc/Protocol.ts"
import { defaults, Scheduler } from "../../runtime/coordinator/Scheduler.ts"
import * as StatusSnapshot from "../../runtime/coordinator/StatusSnapshot.ts"
import * as Progress from "../../runtime/Progress.ts"
import * as BlockFile from "../../runtime/storage/BlockFile.ts"

const EXEC = "wc-1a2b"
const stages = [{ id: 0, kind: "map", shards: 4 }, { id: 1, kind: "reduce", shards: 4 }]

/** Stage 0 half done after 2 s (1,000 items, 2 MB read), two workers each holding one of the other two shards. */
const halfway = () => {
  const s = new Scheduler(EXEC, { ...defaults, startupGraceMs: 0 })
  s.startStage(0, Array.from({ length: 4 }, (_, index) => ({ input: { kind: "list" as const, index } })), false, 0)
  s.register("w1", 0); s.register("w2", 0)
  s.pull("w1", [], 2, 10)
  s.pull("w2", [], 1, 10)
  s.pull("w2", [], 1, 10)
  const done = (shard: number): Report => ({
    kind: "done", executionId: EXEC, stage: 0, generation: s.generation, shard, attempt: 0, durationMs: 1, counters: {},
    output: { kind: "chunks", refs: [BlockFile.inline([shard])] }, io: { recordsIn: 500, bytesIn: 1_000_000, recordsOut: 500, bytesOut: 10_000 }
  })
  s.pull("w2", [done(2)], 0, 1_000)
  s.pull("w1", [done(0)], 0, 1_500)
  return StatusSnapshot.of(s, 2_000, stages)
}

describe("Progress", () => {
  it("a status line has the shape of the reference's, with items and bytes from the built-in counters", () => {
    expect(Progress.statusLine(halfway())).toBe(
      "[wc-1a2b] [stage 1/2 map] 2/4 complete, 2 in-flight, 0 queued, 2/2 workers alive, 0 dead, items=1.00k (500/s), bytes=2.00 MB (1.00 MB/s)"
    )
  })

  it("a live line has a bar of the shards, in flight, retries, rates, an ETA and the workers", () => {
    const s = halfway()
    expect(Progress.stageLine(s, s.stageProgress[0]!)).toBe(
      "stage 1/2 map [████████░░░░░░░░] 2/4 shards, 2 in flight, 0 retries, 500/s items, 1.00 MB/s, ETA 2.00s, workers 2/2 alive: 2 busy, 0 idle, 0 dead"
    )
    // Only stages that started get a line.
    expect(Progress.liveLines(s).split("\n")).toHaveLength(1)
  })

  it("the ETA follows the pace of the shards done so far", () => {
    const s = halfway()
    expect(Progress.eta(s.stageProgress[0]!)).toBe(2_000)
    expect(Progress.eta(s.stageProgress[1]!)).toBeUndefined()
  })
})
