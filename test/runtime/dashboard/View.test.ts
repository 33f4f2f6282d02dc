import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import type { Report, StageIo } from "../../../rpc/Protocol.ts"
import { defaults, Scheduler, type Config } from "../../../runtime/coordinator/Scheduler.ts"
import * as StatusSnapshot from "../../../runtime/coordinator/StatusSnapshot.ts"
import * as View from "../../../runtime/dashboard/View.ts"
import * as BlockFile from "../../../runtime/storage/BlockFile.ts"

const byWord = (w: string): string => w
const countWords = (word: string, items: Iterable<string>) => ({ word, n: [...items].length })
const upper = (s: string): string => s.toUpperCase()

// Three or more stages: a map with a scatter, a reduce, and the join of the reduce with a right side.
const right = Dataset.fromList(["a", "b"]).groupBy(byWord, countWords, { numOutputShards: 2 })
const plan = Zephyr.compile(
  Dataset.fromList(["a", "b", "a"]).map(upper).groupBy(byWord, countWords, { numOutputShards: 2 })
    .sortedMergeJoin(right, { leftKey: (l) => l.word, rightKey: (r) => r.word })
).plan
const graph = View.graphOf(plan, process.cwd())
const infos: ReadonlyArray<StatusSnapshot.StageInfo> = plan.stages.map((s) => ({ id: s.id, kind: s.kind, shards: s.shards.in ?? undefined }))

// The view is read from real scheduler books (StatusSnapshot.of), as the coordinator's Status gives them.
const config: Config = { ...defaults, heartbeatTimeoutMs: 10_000, startupGraceMs: 0, noWorkersTimeoutMs: 30_000, sweepIntervalMs: 1_000, maxTasksPerPull: 8, maxShardFailures: 2 }
const EXEC = "exec-1"
const inputs = (n: number) => Array.from({ length: n }, (_, index) => ({ input: { kind: "list" as const, index } }))
const io = (recordsIn: number, recordsOut: number): StageIo => ({ recordsIn, bytesIn: recordsIn * 10, recordsOut, bytesOut: recordsOut * 10 })
const pipe = path.join(process.cwd(), "pipe.ts")

const done = (s: Scheduler, shard: number, extra: Partial<Extract<Report, { kind: "done" }>> = {}): Report => ({
  kind: "done", executionId: EXEC, stage: s.run!.stage, generation: s.generation, shard, attempt: s.run!.shards[shard]!.attempt, durationMs: 1,
  counters: {}, output: { kind: "chunks", refs: [BlockFile.inline([shard])] }, ...extra
})
const failed = (s: Scheduler, shard: number, message: string): Report => ({
  kind: "failed", executionId: EXEC, stage: s.run!.stage, generation: s.generation, shard, attempt: s.run!.shards[shard]!.attempt, durationMs: 1, counters: {},
  error: new ZephyrWorkerError({ reason: "user-code", message, stage: s.run!.stage, shard, file: pipe, line: 7 }), permanent: false
})

/**
 * Stage 0 (3 shards) running at t=10s: w1 holds shard 0; shard 1 is done with its records
 * and counters; shard 2 failed once on w2 (at 9.5s) and is queued again; w3 is still starting.
 */
const running = () => {
  const s = new Scheduler(EXEC, config)
  s.startStage(0, inputs(3), false, 1_000)
  s.register("w1", 1_000); s.register("w2", 1_000); s.workerStarting("w3", 1_000)
  s.pull("w1", [], 1, 9_000)
  s.pull("w2", [], 1, 9_000)
  s.pull("w2", [done(s, 1, { io: io(10, 8), counters: { words: { agg: "sum", value: 3, count: 3 }, "zephyr/bytes_read": { agg: "sum", value: 100, count: 1 } } })], 1, 9_200)
  s.pull("w2", [failed(s, 2, "map(upper) threw: boom")], 0, 9_500)
  return s
}

const context = (overrides: Partial<View.Context> = {}): View.Context =>
  ({ graph, previous: undefined, elapsedMs: 10_000, attempt: 0, cwd: process.cwd(), ...overrides })

describe("the stage graph", () => {
  it("has one box per stage with explain's lines and file:line, edges for inputs and joins, and columns by depth", () => {
    expect(graph.stages.map((s) => [s.id, s.kind, s.column, s.row])).toEqual(plan.stages.map((s) => [s.id, s.kind, expect.any(Number), expect.any(Number)]))
    const joinStage = plan.stages.find((s) => s.ops.some((o) => o.kind === "sortedMergeJoin"))!
    expect(graph.edges).toContainEqual(expect.objectContaining({ to: joinStage.id, label: "join" }))
    expect(graph.edges.filter((e) => e.label === "shuffle")).toHaveLength(2)
    const first = graph.stages[0]!
    expect(first.lines[0]).toMatchObject({ head: "from", text: "fromList(3 items)", where: expect.stringMatching(/^test\/runtime\/dashboard\/View\.test\.ts:\d+$/) })
    expect(first.lines.map((l) => l.text)).toContain("map(upper)")
    for (const e of graph.edges) expect(graph.stages.find((s) => s.id === e.to)!.column).toBeGreaterThan(graph.stages.find((s) => s.id === e.from)!.column)
    expect(first.tasks).toBe(3)
  })
})

describe("View.fromStatus: an adapter over the coordinator's StatusSnapshot", () => {
  it("before any coordinator: starting, every stage pending with the plan's shard counts", () => {
    const v = View.fromStatus(undefined, context())
    expect(v).toMatchObject({ state: "starting", executionId: null, workers: [], failures: [], retries: 0, workerCounts: { total: 0 } })
    expect(v.stages.map((s) => s.state)).toEqual(plan.stages.map(() => "pending"))
    expect(v.stages[0]).toMatchObject({ total: 3, done: 0, queued: 3 })
  })

  it("a running stage: its shards, records and bytes, retries; workers with phases and heartbeat ages; retries with error text and file:line; counters by stage", () => {
    const v = View.fromStatus(StatusSnapshot.of(running(), 10_000, infos), context())
    expect(v).toMatchObject({ state: "running", executionId: EXEC, retries: 1, error: null })
    expect(v.stages[0]).toEqual({
      id: 0, state: "running", skipped: null, total: 3, done: 1, inFlight: 1, queued: 1, retries: 1,
      recordsIn: 10, recordsOut: 8, bytesIn: 100, bytesOut: 80, elapsedMs: 9_000
    })
    expect(v.stages.slice(1).every((s) => s.state === "pending")).toBe(true)
    expect(v.workers.map((w) => [w.id, w.state, w.shards, w.heartbeatAgeMs])).toEqual([["w1", "busy", [0], 1_000], ["w2", "idle", [], 500], ["w3", "starting", [], null]])
    expect(v.workerCounts).toMatchObject({ total: 3, busy: 1, idle: 1, starting: 1, dead: 0 })
    expect(v.failures).toEqual([{ run: 0, stage: 0, shard: 2, attempt: 0, worker: "w2", kind: "user-error", message: "map(upper) threw: boom", where: "pipe.ts:7", atMs: 9_500 }])
    expect(v.counters).toEqual([{ stage: 0, name: "words", value: 3, builtIn: false }, { stage: 0, name: "zephyr/bytes_read", value: 100, builtIn: true }])
  })

  it("a finished run: every stage done; a failed one marks its stage and lists the failure that ended it with its file:line; an interrupted one stops its stage", () => {
    const s = running()
    s.pull("w1", [done(s, 0)], 0, 10_100)
    s.pull("w2", [], 1, 10_200)
    s.pull("w2", [done(s, 2)], 0, 10_300)
    s.startStage(1, inputs(2), false, 10_400)
    const succeeded = View.fromStatus(StatusSnapshot.of(s, 11_000, infos), context({ ended: { state: "succeeded", error: null } }))
    expect(succeeded.state).toBe("succeeded")
    expect(succeeded.stages[0]).toMatchObject({ state: "done", done: 3, total: 3 })

    const f = running()
    f.pull("w2", [], 1, 9_600)
    f.pull("w2", [failed(f, 2, "map(upper) threw: boom again")], 0, 9_700)
    const error = f.fatal!.message
    const failedView = View.fromStatus(StatusSnapshot.of(f, 10_000, infos), context({ ended: { state: "failed", error } }))
    expect(failedView).toMatchObject({ state: "failed", error })
    expect(failedView.stages[0]).toMatchObject({ state: "failed", inFlight: 0, queued: 0 })
    expect(failedView.stages[1]!.state).toBe("pending")
    expect(failedView.failures.at(-1)).toEqual({ run: 0, stage: 0, shard: 2, attempt: null, worker: "w2", kind: "fatal", message: error, where: "pipe.ts:7", atMs: 10_000 })

    const stopped = View.fromStatus(StatusSnapshot.of(running(), 10_000, infos), context({ ended: { state: "interrupted", error: null } }))
    expect(stopped.state).toBe("interrupted")
    expect(stopped.stages[0]).toMatchObject({ state: "stopped", inFlight: 0, queued: 0 })
  })

  it("a pipeline retry (a fresh coordinator): stages the earlier attempt completed keep its books, its retries stay listed, a failure's time is as first seen", () => {
    const s = running()
    const first = View.fromStatus(StatusSnapshot.of(s, 10_000, infos), context())
    const later = View.fromStatus(StatusSnapshot.of(s, 11_234, infos), context({ previous: first, elapsedMs: 11_234 }))
    expect(later.failures.map((f) => f.atMs)).toEqual([9_500])
    s.pull("w1", [done(s, 0)], 0, 11_300)
    s.pull("w2", [], 1, 11_300)
    s.pull("w2", [done(s, 2, { io: io(5, 5) })], 0, 11_400)
    const stage0Done = View.fromStatus(StatusSnapshot.of(s, 11_500, infos), context({ previous: later, elapsedMs: 11_500 }))
    expect(stage0Done.stages[0]).toMatchObject({ state: "done", recordsIn: 15 })

    const fresh = new Scheduler(EXEC, config)
    fresh.skipStage(0, 3, "completed by an earlier run", 20_000)
    fresh.startStage(1, inputs(2), false, 20_000)
    const retried = View.fromStatus(StatusSnapshot.of(fresh, 20_000, infos), context({ previous: stage0Done, attempt: 1, elapsedMs: 20_000 }))
    expect(retried.stages[0]).toEqual(stage0Done.stages[0])
    expect(retried.stages[1]).toMatchObject({ state: "running", total: 2, done: 0 })
    expect(retried.counters.filter((c) => c.stage === 0)).toEqual(stage0Done.counters.filter((c) => c.stage === 0))
    expect(retried.failures).toHaveLength(1)
    expect(retried.failures[0]!.run).toBe(0)
    expect(retried.attempt).toBe(1)

    // A stage skipped on resume (no earlier attempt here to remember) shows as skipped, complete.
    const resumed = View.fromStatus(StatusSnapshot.of(fresh, 20_000, infos), context())
    expect(resumed.stages[0]).toMatchObject({ state: "skipped", skipped: "completed by an earlier run", total: 3, done: 3 })
  })
})

/** A snapshot of stage 0 having read `n` records and written `n / 2`. */
const records = (n: number, atMs = 0): StatusSnapshot.Snapshot => {
  const base = StatusSnapshot.of(running(), 10_000, infos)
  return { ...base, atMs, stageProgress: base.stageProgress.map((s) => (s.id === 0 ? { ...s, io: io(n, n / 2) } : s)) }
}

describe("throughput", () => {
  it("one point per second of records in and out per second; none for shorter gaps; the last one at the end", () => {
    let v = View.fromStatus(records(0), context({ elapsedMs: 0 }))
    v = View.fromStatus(records(100), context({ previous: v, elapsedMs: 500 }))
    expect(v.throughput).toEqual([])
    v = View.fromStatus(records(200), context({ previous: v, elapsedMs: 1_000 }))
    expect(v.throughput).toEqual([{ atMs: 1_000, inPerSec: 200, outPerSec: 100 }])
    v = View.fromStatus(records(300), context({ previous: v, elapsedMs: 1_250, ended: { state: "succeeded", error: null } }))
    expect(v.throughput[1]).toEqual({ atMs: 1_250, inPerSec: 400, outPerSec: 200 })
  })

  it("a fresh coordinator (counts restart) gives no negative rate", () => {
    let v = View.fromStatus(records(500), context({ elapsedMs: 0 }))
    v = View.fromStatus(records(10), context({ previous: v, elapsedMs: 1_000, attempt: 1 }))
    expect(v.throughput[0]!.inPerSec).toBe(0)
  })

  it("stays bounded over a long run: past the limit, neighbouring points merge (the mean rate over both)", () => {
    let v = View.fromStatus(records(0), context({ elapsedMs: 0 }))
    for (let t = 1; t <= View.throughputPoints * 3; t++) {
      v = View.fromStatus(records(t * 10), context({ previous: v, elapsedMs: t * 1_000 }))
      expect(v.throughput.length).toBeLessThanOrEqual(View.throughputPoints)
    }
    expect(v.throughput.length).toBeGreaterThan(View.throughputPoints / 2)
    for (const p of v.throughput.slice(1)) expect(p.inPerSec).toBeCloseTo(10)
    expect(v.throughput[v.throughput.length - 1]!.atMs).toBe(View.throughputPoints * 3 * 1_000)
  })
})

describe("View.changed", () => {
  it("ignores the clock (ages, elapsed times) and sees everything else", () => {
    const s = running()
    const a = View.fromStatus(StatusSnapshot.of(s, 10_000, infos), context())
    const older = View.fromStatus(StatusSnapshot.of(s, 10_400, infos), context({ previous: a, elapsedMs: 10_400 }))
    expect(View.changed(a, older)).toBe(false)
    s.pull("w1", [done(s, 0)], 0, 10_500)
    expect(View.changed(a, View.fromStatus(StatusSnapshot.of(s, 10_500, infos), context({ previous: a, elapsedMs: 10_500 })))).toBe(true)
    s.register("w3", 10_600)
    expect(View.changed(older, View.fromStatus(StatusSnapshot.of(s, 10_600, infos), context({ previous: older, elapsedMs: 10_600 })))).toBe(true)
  })
})
