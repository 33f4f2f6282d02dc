import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import type { Report, StageIo } from "../../../rpc/Protocol.ts"
import { defaults, phaseOf, Scheduler, type Config } from "../../../runtime/coordinator/Scheduler.ts"
import * as StatusSnapshot from "../../../runtime/coordinator/StatusSnapshot.ts"
import * as BlockFile from "../../../runtime/storage/BlockFile.ts"

const config: Config = { ...defaults, heartbeatTimeoutMs: 10_000, startupGraceMs: 0, noWorkersTimeoutMs: 30_000, sweepIntervalMs: 1_000, maxTasksPerPull: 8 }
const EXEC = "exec-s"
const stages: ReadonlyArray<StatusSnapshot.StageInfo> = [{ id: 0, kind: "map", shards: 2 }, { id: 1, kind: "reduce", shards: 2 }]
const inputs = (n: number) => Array.from({ length: n }, (_, index) => ({ input: { kind: "list" as const, index } }))
const io = (recordsIn: number, bytesIn: number, recordsOut: number, bytesOut: number): StageIo => ({ recordsIn, bytesIn, recordsOut, bytesOut })

const done = (s: Scheduler, stage: number, shard: number, extra: Partial<Extract<Report, { kind: "done" }>> = {}): Report => ({
  kind: "done", executionId: EXEC, stage, generation: s.generation, shard, attempt: s.run!.shards[shard]!.attempt, durationMs: 1,
  counters: {}, output: { kind: "chunks", refs: [BlockFile.inline([shard])] }, ...extra
})

const failed = (s: Scheduler, stage: number, shard: number, message: string, where: { file?: string; line?: number } = {}): Report => ({
  kind: "failed", executionId: EXEC, stage, generation: s.generation, shard, attempt: s.run!.shards[shard]!.attempt, durationMs: 1, counters: {},
  error: new ZephyrWorkerError({ reason: "user-code", message, stage, shard, ...where }), permanent: false
})

const snapshot = (s: Scheduler, now: number, filter?: StatusSnapshot.Filter) => {
  const value = StatusSnapshot.of(s, now, stages, filter)
  // What the Status RPC sends must be what its schema says.
  expect(Schema.decodeUnknownSync(StatusSnapshot.Snapshot)(Schema.encodeSync(StatusSnapshot.Snapshot)(value))).toEqual(value)
  return value
}

describe("StatusSnapshot: stages", () => {
  it("shows every stage of the plan: pending, running with its shards, done with its wall time, built-in counters and user counters", () => {
    const s = new Scheduler(EXEC, config)
    expect(snapshot(s, 0).stageProgress.map((x) => [x.id, x.kind, x.state, x.shards.total])).toEqual([[0, "map", "pending", 2], [1, "reduce", "pending", 2]])
    s.startStage(0, inputs(2), false, 1_000)
    s.register("w1", 1_000)
    s.pull("w1", [], 2, 1_100)
    const running = snapshot(s, 1_500)
    expect(running).toMatchObject({ executionId: EXEC, stage: 0, stages: 2, completed: 0, total: 2, inFlight: 2, queued: 0, startedAtMs: 1_000 })
    expect(running.stageProgress[0]).toMatchObject({ state: "running", shards: { total: 2, done: 0, inFlight: 2, queued: 0 }, startedAtMs: 1_000, elapsedMs: 500 })
    s.pull("w1", [
      done(s, 0, 0, { io: io(10, 100, 5, 50), counters: { mapped: { agg: "sum", value: 10, count: 10 } } }),
      done(s, 0, 1, { io: io(20, 200, 7, 70), counters: { mapped: { agg: "sum", value: 20, count: 20 } } })
    ], 0, 3_000)
    s.startStage(1, inputs(2), true, 3_200)
    s.pull("w1", [], 2, 3_300)
    s.pull("w1", [done(s, 1, 0, { io: io(6, 60, 1, 10), counters: { groups: { agg: "sum", value: 1, count: 1 } } })], 0, 3_400)
    const later = snapshot(s, 4_000)
    expect(later.stageProgress[0]).toMatchObject({
      state: "done", elapsedMs: 2_000, shards: { total: 2, done: 2, inFlight: 0, queued: 0 },
      io: { recordsIn: 30, bytesIn: 300, recordsOut: 12, bytesOut: 120 }, counters: { mapped: 30 }
    })
    expect(later.stageProgress[1]).toMatchObject({ state: "running", elapsedMs: 800, shards: { total: 2, done: 1, inFlight: 1 }, io: { recordsIn: 6 }, counters: { groups: 1 } })
    expect(later.counters).toEqual({ groups: 1, mapped: 30 })
  })

  it("with a stage filter, only that stage's progress, counters and retries", () => {
    const s = new Scheduler(EXEC, config)
    s.register("w1", 0)
    s.startStage(0, inputs(2), false, 0)
    s.pull("w1", [], 2, 1)
    s.pull("w1", [failed(s, 0, 1, "boom"), done(s, 0, 0, { counters: { a: { agg: "sum", value: 1, count: 1 } } })], 2, 2)
    s.pull("w1", [done(s, 0, 1, { counters: { a: { agg: "sum", value: 1, count: 1 } } })], 0, 3)
    s.startStage(1, inputs(2), true, 4)
    s.pull("w1", [], 2, 5)
    s.pull("w1", [done(s, 1, 0, { counters: { b: { agg: "max", value: 7, count: 1 } } })], 0, 6)
    const first = snapshot(s, 10, { stage: 0 })
    expect(first.counterStage).toBe(0)
    expect(first.counters).toEqual({ a: 2 })
    expect(first.stageProgress.map((x) => x.id)).toEqual([0])
    expect(first.recentRetries.map((r) => [r.stage, r.shard])).toEqual([[0, 1]])
    const second = snapshot(s, 10, { stage: 1 })
    expect(second.counters).toEqual({ b: 7 })
    expect(second.stageProgress.map((x) => x.id)).toEqual([1])
    expect(second.recentRetries).toEqual([])
    expect(snapshot(s, 10).counters).toEqual({ a: 2, b: 7 })
  })

  it("a skipped stage shows why, and counts as done", () => {
    const s = new Scheduler(EXEC, config)
    s.skipStage(0, 2, "completed by an earlier run", 50)
    expect(snapshot(s, 60).stageProgress[0]).toMatchObject({ state: "skipped", skipped: "completed by an earlier run", shards: { total: 2, done: 2 }, elapsedMs: 0 })
  })

  it("groups retries by cause and place (file:line), and names the failure that ended the run", () => {
    const s = new Scheduler(EXEC, { ...config, maxShardFailures: 3 })
    s.register("w1", 0); s.register("w2", 0)
    s.startStage(0, inputs(2), false, 0)
    s.pull("w1", [], 1, 1)
    s.pull("w2", [], 1, 1)
    s.pull("w1", [failed(s, 0, 0, "parse failed: bad row\n    at stack", { file: "pipe.ts", line: 12 })], 1, 2)
    s.pull("w1", [failed(s, 0, 0, "parse failed: bad row", { file: "pipe.ts", line: 12 })], 0, 3)
    s.workerExited("w2", 4, "process 42 killed by SIGKILL")
    const snap = snapshot(s, 5)
    expect(snap.stageProgress[0]!.retries).toBe(3)
    expect(snap.stageProgress[0]!.retryGroups).toEqual([
      { cause: "user-error", message: "parse failed: bad row", file: "pipe.ts", line: 12, count: 2, lastShard: 0, lastWorker: "w1" },
      { cause: "worker-lost", message: "process 42 killed by SIGKILL", count: 1, lastShard: 1, lastWorker: "w2" }
    ])
    expect(snap.recentRetries.map((r) => [r.shard, r.attempt, r.cause, r.file ?? null, r.line ?? null])).toEqual([
      [0, 0, "user-error", "pipe.ts", 12], [0, 1, "user-error", "pipe.ts", 12], [1, 0, "worker-lost", null, null]
    ])
    s.pull("w1", [], 1, 6)
    s.pull("w1", [failed(s, 0, 0, "parse failed: bad row", { file: "pipe.ts", line: 12 })], 0, 7)
    const end = snapshot(s, 8)
    expect(end.stageProgress[0]!.state).toBe("failed")
    expect(end.failure).toMatchObject({ tag: "ZephyrWorkerError", reason: "user-code", stage: 0, shard: 0, file: "pipe.ts", line: 12 })
    expect(end.fatalError).toContain("failed 3 times")
  })

  it.each([
    { how: "after maxShardFailures user errors", permanent: false, failures: 2 },
    { how: "on a permanent user error", permanent: true, failures: 1 }
  ])("the failure that ended the run names the worker of the attempt that failed last ($how), with its file:line", ({ permanent, failures }) => {
    const s = new Scheduler(EXEC, { ...config, maxShardFailures: 2 })
    s.register("w1", 0); s.register("w2", 0)
    s.startStage(0, inputs(1), false, 0)
    for (let i = 0; i < failures; i++) {
      const worker = i === failures - 1 ? "w2" : "w1"
      s.pull(worker, [], 1, 1 + i)
      s.pull(worker, [{ ...failed(s, 0, 0, "parse failed", { file: "pipe.ts", line: 12 }), permanent } as Report], 0, 2 + i)
    }
    expect(snapshot(s, 10).failure).toMatchObject({ stage: 0, shard: 0, worker: "w2", file: "pipe.ts", line: 12 })
  })

  it("counts the files a stage's writes published, by directory", () => {
    const s = new Scheduler(EXEC, config)
    s.register("w1", 0)
    s.startStage(0, inputs(2), true, 0)
    s.pull("w1", [], 2, 1)
    s.pull("w1", [
      done(s, 0, 0, { commit: { pending: "/out/.a-0", target: "/out/part-0.jsonl" } }),
      done(s, 0, 1, { commit: { pending: "/out/.a-1", target: "/out/part-1.jsonl" } })
    ], 0, 2)
    expect(snapshot(s, 3).stageProgress[0]!.outputs).toEqual({ files: 2, dirs: [{ dir: "/out", files: 2 }], otherFiles: 0 })
  })
})

describe("StatusSnapshot: workers", () => {
  it("reports each worker's state as it changes (starting, ready, busy on its shards, idle, dead, released), how long it has been in it, and its heartbeat age", () => {
    const s = new Scheduler(EXEC, config)
    s.startStage(0, inputs(3), true, 0)
    s.workerStarting("w1", 0)
    const state = (now: number) => snapshot(s, now).workers.map((w) => [w.id, w.state, w.shards, w.heartbeatAgeMs, w.stateAgeMs])
    expect(state(100)).toEqual([["w1", "starting", [], null, 100]])
    s.register("w1", 200)
    expect(state(250)).toEqual([["w1", "starting", [], 50, 50]])
    s.heartbeat("w1", 300)
    expect(state(400)).toEqual([["w1", "ready", [], 100, 100]])
    s.pull("w1", [], 2, 500)
    expect(state(600)).toEqual([["w1", "busy", [0, 1], 100, 100]])
    s.pull("w1", [done(s, 0, 0), done(s, 0, 1)], 0, 700)
    expect(state(800)).toEqual([["w1", "idle", [], 100, 100]])
    s.register("w2", 800)
    s.heartbeat("w2", 800)
    s.pull("w2", [], 1, 900)
    s.workerExited("w2", 1_000, "exit code 1")
    expect(state(1_100).find((w) => w[0] === "w2")).toEqual(["w2", "dead", [], 200, 100])
    s.workerStarting("w2", 1_200)
    expect(state(1_300).find((w) => w[0] === "w2")).toEqual(["w2", "starting", [], 400, 100])
    // The last stage has nothing left to hand out: an idle worker is released.
    s.pull("w1", [], 1, 1_400)
    s.pull("w1", [done(s, 0, 2)], 1, 1_500)
    expect(state(1_600).find((w) => w[0] === "w1")).toEqual(["w1", "released", [], 100, 100])
    expect(snapshot(s, 1_600).workerCounts).toEqual({ total: 2, alive: 0, starting: 1, ready: 0, busy: 0, idle: 0, dead: 0, released: 1 })
  })

  it("logs each change of state at debug level, naming the shards of a busy worker", () => {
    const s = new Scheduler(EXEC, config)
    s.startStage(0, inputs(2), false, 0)
    s.register("w1", 0)
    s.heartbeat("w1", 1)
    s.pull("w1", [], 2, 2)
    const changes = s.drainEvents().filter((e) => e.message.startsWith("worker w1:"))
    expect(changes.map((e) => [e.level, e.message, e.fields?.worker])).toEqual([
      ["debug", "worker w1: starting → ready", "w1"],
      ["debug", "worker w1: ready → busy on shard(s) 0, 1", "w1"]
    ])
  })

  it("the phase of a worker follows from its state and what it holds", () => {
    const base = { state: "alive" as const, started: true, inFlight: new Set<number>(), tasksDone: 0, relaunched: false }
    const table: Array<[Parameters<typeof phaseOf>[0], StatusSnapshot.WorkerPhase]> = [
      [{ ...base, started: false }, "starting"],
      [base, "ready"],
      [{ ...base, inFlight: new Set([3]) }, "busy"],
      [{ ...base, tasksDone: 2 }, "idle"],
      [{ ...base, state: "failed" }, "dead"],
      [{ ...base, state: "failed", relaunched: true }, "starting"],
      [{ ...base, state: "gone" }, "released"]
    ]
    for (const [w, phase] of table) expect(phaseOf(w)).toBe(phase)
  })
})

describe("Scheduler: counters", () => {
  it("a counter given two aggregations keeps the first, and the conflict is warned about once", () => {
    const s = new Scheduler(EXEC, config)
    s.register("w1", 0)
    s.startStage(0, inputs(3), false, 0)
    s.pull("w1", [], 3, 1)
    s.drainEvents()
    s.pull("w1", [
      done(s, 0, 0, { counters: { largest: { agg: "sum", value: 5, count: 1 } } }),
      done(s, 0, 1, { counters: { largest: { agg: "max", value: 9, count: 1 } } }),
      done(s, 0, 2, { counters: { largest: { agg: "max", value: 4, count: 1 } } })
    ], 0, 2)
    expect(s.counters).toEqual({ largest: { agg: "sum", value: 5, count: 1 } })
    const warnings = s.drainEvents().filter((e) => e.level === "warn")
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.message).toBe('counter "largest" was given two aggregations: "sum" first, then "max" (stage 0, shard 1); it keeps "sum" and ignores the other. Give each aggregation a counter of its own.')
    expect(warnings[0]!.fields).toMatchObject({ stage: 0, shard: 1, worker: "w1" })
  })

  it("a conflict within one task is warned about too", () => {
    const s = new Scheduler(EXEC, config)
    s.register("w1", 0)
    s.startStage(0, inputs(1), false, 0)
    s.pull("w1", [], 1, 1)
    s.drainEvents()
    s.pull("w1", [done(s, 0, 0, { counters: { n: { agg: "sum", value: 2, count: 2, conflict: "avg" } } })], 0, 2)
    expect(s.counters).toEqual({ n: { agg: "sum", value: 2, count: 2 } })
    expect(s.drainEvents().filter((e) => e.level === "warn").map((e) => e.message)).toEqual([
      'counter "n" was given two aggregations: "sum" first, then "avg" (stage 0, shard 0); it keeps "sum" and ignores the other. Give each aggregation a counter of its own.'
    ])
  })
})
