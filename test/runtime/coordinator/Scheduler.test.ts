import * as BlockFile from "../../../runtime/storage/BlockFile.ts"
import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import type { Report, ShardOutput } from "../../../rpc/Protocol.ts"
import fc from "fast-check"
import { batchSize, classifyReport, defaults, idleHoldMs, registrationOf, Scheduler, type Config } from "../../../runtime/coordinator/Scheduler.ts"
import { ShardQueue } from "../../../runtime/coordinator/ShardQueue.ts"

const config: Config = { ...defaults, heartbeatTimeoutMs: 10_000, startupGraceMs: 0, noWorkersTimeoutMs: 30_000, sweepIntervalMs: 1_000, maxTasksPerPull: 8 }
const EXEC = "exec-1"
const input = (index: number) => ({ input: { kind: "list" as const, index } })
const out = (n: number): ShardOutput => ({ kind: "chunks", refs: [BlockFile.inline([n])] })

const make = (overrides: Partial<Config> = {}, shards = 3, isLast = false) => {
  const s = new Scheduler(EXEC, { ...config, ...overrides })
  s.startStage(0, Array.from({ length: shards }, (_, i) => input(i)), isLast)
  return s
}

const done = (s: Scheduler, shard: number, attempt = 0, extra: Partial<Report> = {}): Report =>
  ({ kind: "done", executionId: EXEC, stage: 0, generation: s.generation, shard, attempt, counters: { n: { agg: "sum", value: 1, count: 1 } }, durationMs: 1, output: out(shard), ...extra }) as Report

const failed = (s: Scheduler, shard: number, attempt: number, message = "boom", permanent = false): Report => ({
  kind: "failed", executionId: EXEC, stage: 0, generation: s.generation, shard, attempt, counters: {}, durationMs: 1,
  error: new ZephyrWorkerError({ reason: "user-code", message, stage: 0, shard }), permanent
})

const tasksOf = (r: ReturnType<Scheduler["pull"]>) => (r.kind === "tasks" ? r.tasks.map((t) => [t.shard, t.attempt]) : r.kind)

describe("Scheduler: hand-out and results", () => {
  it("hands out shards in order, up to the requested batch, and finishes in shard order", () => {
    const s = make()
    s.register("w1", 0)
    expect(tasksOf(s.pull("w1", [], 2, 1))).toEqual([[0, 0], [1, 0]])
    expect(tasksOf(s.pull("w1", [done(s, 1), done(s, 0)], 2, 2))).toEqual([[2, 0]])
    s.pull("w1", [done(s, 2)], 1, 3)
    const o = s.outcome()
    expect(o.kind).toBe("done")
    if (o.kind === "done") expect(o.outputs).toEqual([out(0), out(1), out(2)])
    expect(s.counters).toEqual({ n: { agg: "sum", value: 3, count: 3 } })
  })

  it("answers backoff when there is nothing to hand out in an intermediate stage", () => {
    const s = make({}, 1)
    s.register("w1", 0); s.register("w2", 0)
    s.pull("w1", [], 1, 1)
    expect(s.pull("w2", [], 1, 1).kind).toBe("backoff")
  })

  it("tells a worker it does not know to register", () => {
    const s = make()
    expect(s.pull("stranger", [], 1, 0)).toMatchObject({ kind: "shutdown" })
  })
})

describe("Scheduler: which reports count", () => {
  const s = make()
  s.register("w1", 0); s.register("w2", 0)
  s.pull("w1", [], 1, 0)
  const table: Array<[string, Report, string | null]> = [
    ["the current attempt from the holder", done(s, 0), null],
    ["an unknown execution", done(s, 0, 0, { executionId: "other" }), "unknown execution"],
    ["an old stage generation", done(s, 0, 0, { generation: s.generation - 1 }), "old stage generation"],
    ["another stage", done(s, 0, 0, { stage: 1 }), "old stage generation"],
    ["a stale attempt", done(s, 0, 3), "stale attempt"],
    ["an unknown shard", done(s, 9), "unknown shard"]
  ]
  for (const [name, report, reason] of table) {
    it(name, () => {
      const v = classifyReport(EXEC, s.run, report, "w1")
      if (reason === null) expect(v.accept).toBe(true)
      else expect(v).toMatchObject({ accept: false, reason: expect.stringContaining(reason) })
    })
  }
  it("a worker not holding the shard", () => {
    expect(classifyReport(EXEC, s.run, done(s, 0), "w2")).toMatchObject({ accept: false, reason: expect.stringContaining("held by w1") })
  })
  it("a duplicate for a finished shard", () => {
    const t = make()
    t.register("w1", 0)
    t.pull("w1", [], 1, 0)
    t.pull("w1", [done(t, 0)], 1, 1)
    expect(classifyReport(EXEC, t.run, done(t, 0), "w1")).toMatchObject({ accept: false, reason: expect.stringContaining("already finished") })
    t.pull("w1", [done(t, 0)], 0, 2) // ignored, not counted twice
    expect(t.run!.completed).toBe(1)
  })
})

describe("Scheduler: failure budgets", () => {
  it("re-queues a user error with a new attempt, then fails after maxShardFailures naming shard, worker and error", () => {
    const s = make({ maxShardFailures: 3 }, 1)
    s.register("w1", 0)
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(tasksOf(s.pull("w1", [], 1, attempt))).toEqual([[0, attempt]])
      s.pull("w1", [failed(s, 0, attempt, `boom ${attempt}`)], 0, attempt)
      expect(s.fatal).toBeUndefined()
    }
    s.pull("w1", [], 1, 5)
    s.pull("w1", [failed(s, 0, 2, "boom 2")], 0, 6)
    expect(s.fatal?.message).toBe("Shard 0 of stage 0 failed 3 times (max 3); last failure on worker w1: boom 2")
    expect(s.outcome().kind).toBe("failed")
    expect(s.pull("w1", [], 1, 7)).toMatchObject({ kind: "shutdown" })
  })

  it("fails at once on a permanent data error", () => {
    const s = make({}, 1)
    s.register("w1", 0)
    s.pull("w1", [], 1, 0)
    s.pull("w1", [failed(s, 0, 0, "Unsupported file extension", true)], 1, 1)
    expect(s.fatal?.message).toBe("Stage 0, shard 0: Unsupported file extension")
  })

  it("caps infrastructure failures separately, with their own message: maxShardInfraFailures = N fails on the Nth", () => {
    const s = make({ maxShardInfraFailures: 2 }, 1)
    s.register("w1", 0)
    s.pull("w1", [], 1, 0)
    s.workerExited("w1", 1, "exit code 137")
    expect(s.fatal).toBeUndefined()
    s.register("w1", 100)
    s.pull("w1", [], 1, 100)
    s.workerExited("w1", 101, "exit code 137")
    expect(s.fatal).toMatchObject({ _tag: "ZephyrInfraError", reason: "shard-infra-failures", shard: 0 })
    expect(s.fatal?.message).toMatch(/^Shard 0 of stage 0 crashed, lost its worker or hit a disk error 2 times \(max 2\); last on worker w1: exit code 137\.$/)
    expect(s.run!.shards[0]!.failures).toBe(0)
  })

  it("maxShardInfraFailures = 1: the first lost worker fails the shard", () => {
    const s = make({ maxShardInfraFailures: 1 }, 1)
    s.register("w1", 0)
    s.pull("w1", [], 1, 0)
    s.workerExited("w1", 1, "exit code 137")
    expect(s.fatal).toMatchObject({ reason: "shard-infra-failures" })
  })

  it("a failure reported as infrastructure (a disk error) uses the infrastructure budget, and the shard goes to another worker next", () => {
    const s = make({ maxShardFailures: 1, maxShardInfraFailures: 3 }, 2)
    s.register("w1", 0); s.register("w2", 0)
    expect(tasksOf(s.pull("w1", [], 1, 0))).toEqual([[0, 0]])
    const disk = { ...failed(s, 0, 0, "ENOSPC: no space left on device, write"), infrastructure: true } as Report
    // w1 reports the disk error and asks for more: it gets shard 1, not its failed shard 0 back
    expect(tasksOf(s.pull("w1", [disk], 2, 1))).toEqual([[1, 0]])
    expect(s.fatal).toBeUndefined()
    expect(s.run!.shards[0]).toMatchObject({ status: "queued", attempt: 1, failures: 0, infraFailures: 1 })
    expect(tasksOf(s.pull("w2", [], 1, 2))).toEqual([[0, 1]])
    const again = { ...failed(s, 0, 1, "ENOENT: no such file or directory, open '/chunks/run-1.blk'"), infrastructure: true } as Report
    s.pull("w2", [again], 0, 3)
    // with w2's failure on record, w1 may take it; a third failure ends the run with the last disk error
    expect(tasksOf(s.pull("w1", [done(s, 1)], 1, 4))).toEqual([[0, 2]])
    s.pull("w1", [{ ...failed(s, 0, 2, "EIO: i/o error, read"), infrastructure: true } as Report], 0, 5)
    expect(s.fatal).toMatchObject({ _tag: "ZephyrInfraError", reason: "shard-infra-failures" })
    expect(s.fatal?.message).toContain("EIO: i/o error")
  })

  it("a shard is left for another worker only while one is alive", () => {
    const s = make({}, 1)
    s.register("w1", 0); s.register("w2", 0)
    s.pull("w1", [], 1, 0)
    s.pull("w1", [{ ...failed(s, 0, 0, "EIO"), infrastructure: true } as Report], 0, 1)
    expect(s.pull("w1", [], 1, 2).kind).toBe("backoff")
    s.workerExited("w2", 3, "exit code 1")
    expect(tasksOf(s.pull("w1", [], 1, 4))).toEqual([[0, 1]])
  })

  it("a worker that runs out of memory holding the same shard maxShardFailures times fails the run, naming the shard", () => {
    const s = make({ maxShardFailures: 3 }, 1)
    for (let i = 0; i < 3; i++) {
      s.register("w1", i * 100)
      expect(tasksOf(s.pull("w1", [], 1, i * 100))).toEqual([[0, i]])
      if (i < 2) expect(s.fatal).toBeUndefined()
      s.workerExited("w1", i * 100 + 1, "process 42 killed by SIGABRT: out of memory", true)
    }
    expect(s.fatal).toMatchObject({ _tag: "ZephyrWorkerError", reason: "out-of-memory", stage: 0, shard: 0, worker: "w1" })
    expect(s.fatal?.message).toMatch(/^Shard 0 of stage 0 ran out of memory: a worker holding it hit its V8 heap limit 3 times \(max 3\)/)
  })

  it("a shard held by a worker that ran out of memory runs alone next: later exits charge it, not its batch-mates", () => {
    const s = make({ maxShardFailures: 3, maxTasksPerPull: 8 }, 4)
    s.register("w1", 0)
    expect(tasksOf(s.pull("w1", [], 2, 0))).toEqual([[0, 0], [1, 0]])
    s.workerExited("w1", 1, "killed by SIGABRT", true) // one of the two was the culprit
    s.register("w1", 2)
    expect(tasksOf(s.pull("w1", [], 8, 3))).toEqual([[2, 0], [3, 0]]) // suspects are not batched with others
    s.pull("w1", [done(s, 2), done(s, 3)], 0, 4)
    expect(tasksOf(s.pull("w1", [], 8, 5))).toEqual([[0, 1]])
    s.workerExited("w1", 6, "killed by SIGABRT", true)
    s.register("w1", 7)
    expect(tasksOf(s.pull("w1", [], 8, 8))).toEqual([[1, 1]])
    s.pull("w1", [done(s, 1, 1)], 0, 9)
    expect(tasksOf(s.pull("w1", [], 8, 10))).toEqual([[0, 2]])
    s.workerExited("w1", 11, "killed by SIGABRT", true)
    expect(s.fatal).toMatchObject({ reason: "out-of-memory", shard: 0 })
    expect(s.run!.shards.map((x) => x.oomFailures)).toEqual([3, 1, 0, 0])
  })

  it("out-of-memory exits of different shards do not add up", () => {
    const s = make({ maxShardFailures: 2 }, 3)
    for (let i = 0; i < 3; i++) {
      s.register("w1", i * 100)
      s.pull("w1", [], 1, i * 100)
      s.workerExited("w1", i * 100 + 1, "killed by SIGABRT", true)
    }
    expect(s.fatal).toBeUndefined()
    expect(s.run!.shards.map((x) => x.oomFailures)).toEqual([1, 1, 1])
  })
})

describe("Scheduler: liveness", () => {
  it("declares a silent worker dead after the timeout (not before) and re-queues its shard as a new attempt", () => {
    const s = make()
    s.register("w1", 0); s.register("w2", 0)
    s.pull("w1", [], 1, 0)
    expect(s.sweep(9_500).dead).toEqual([])
    s.heartbeat("w2", 10_000)
    expect(s.sweep(10_000).dead).toEqual([])
    const r = s.sweep(10_500)
    expect(r.dead).toEqual(["w1"])
    expect(s.workers.get("w1")!.state).toBe("failed")
    expect(s.run!.shards[0]).toMatchObject({ status: "queued", attempt: 1, infraFailures: 1, failures: 0 })
    expect(tasksOf(s.pull("w2", [], 8, 11_001))).toEqual([[1, 0], [2, 0], [0, 1]])
  })

  it("ignores a late report from a worker whose shard was re-assigned, and revives the worker idle", () => {
    const s = make({}, 1)
    s.register("w1", 0); s.register("w2", 0)
    s.pull("w1", [], 1, 0)
    s.heartbeat("w2", 10_000)
    s.sweep(10_001)
    s.sweep(10_002)
    expect(tasksOf(s.pull("w2", [], 1, 10_003))).toEqual([[0, 1]])
    const late = s.pull("w1", [done(s, 0, 0)], 1, 10_004)
    expect(s.run!.completed).toBe(0)
    expect(s.workers.get("w1")!.state).toBe("alive")
    expect(late.kind).toBe("backoff")
    s.pull("w2", [done(s, 0, 1)], 1, 10_005)
    expect(s.outcome().kind).toBe("done")
  })

  it("gives a starting worker a grace period", () => {
    const s = make({ startupGraceMs: 60_000 })
    s.register("w1", 0)
    for (let t = 1_000; t <= 60_000; t += 1_000) expect(s.sweep(t).dead).toEqual([])
    expect(s.sweep(61_000).dead).toEqual(["w1"])
  })

  it("ends the start-up grace at the first heartbeat: then the plain timeout applies", () => {
    const s = make({ startupGraceMs: 60_000 })
    s.register("w1", 0)
    s.heartbeat("w1", 1_000)
    expect(s.sweep(11_000).dead).toEqual([])
    expect(s.sweep(11_001).dead).toEqual(["w1"])
    // re-registering (a restarted process) starts a new grace
    s.register("w1", 20_000)
    expect(s.sweep(70_000).dead).toEqual([])
  })

  it("does not judge a worker whose request the coordinator is still handling (a held pull)", () => {
    const s = make()
    s.register("w1", 0)
    s.workers.get("w1")!.activeRequests = 1
    expect(s.sweep(50_000).dead).toEqual([])
  })

  it("after a stall of its own (a sweep that ran late), counts silence again from its recovery", () => {
    const s = make()
    s.register("w1", 0)
    s.sweep(1_000)
    expect(s.sweep(40_000).dead).toEqual([])
    expect(s.drainEvents().some((e) => e.message.includes("stalled for 38000 ms"))).toBe(true)
    for (let t = 41_000; t <= 50_000; t += 1_000) expect(s.sweep(t).dead).toEqual([]) // queued heartbeats get a full timeout to arrive
    expect(s.sweep(50_500).dead).toEqual(["w1"]) // none came: now it is dead
  })

  it("re-queues what a re-registering worker held and makes it alive again", () => {
    const s = make()
    s.register("w1", 0)
    s.pull("w1", [], 2, 0)
    expect(s.register("w1", 5).requeued).toEqual([0, 1])
    expect(s.workers.get("w1")!.state).toBe("alive")
    expect(s.run!.shards.map((x) => x.attempt)).toEqual([1, 1, 0])
  })

  it("notices an exited local process at once", () => {
    const s = make()
    s.register("w1", 0); s.register("w2", 0)
    s.pull("w1", [], 1, 0)
    s.workerExited("w1", 1, "killed by SIGKILL")
    expect(s.run!.shards[0]).toMatchObject({ status: "queued", attempt: 1 })
  })
})

describe("Scheduler: no alive workers", () => {
  it("fails a stage after noWorkersTimeout with none alive, counting alive (not registered) workers", () => {
    const s = make({ noWorkersTimeoutMs: 30_000 })
    s.register("w1", 0)
    s.workerExited("w1", 1_000, "exit code 1")
    expect(s.workers.size).toBe(1)
    s.sweep(2_000)
    s.sweep(20_000)
    expect(s.fatal).toBeUndefined()
    s.sweep(32_000)
    expect(s.fatal?.message).toMatch(/^No alive workers for 31s \(noWorkersTimeout 30s\) while stage 0 had 3 shard\(s\) outstanding/)
    // not an infrastructure failure: a fresh pool would wait the whole timeout again
    expect(s.fatal).toMatchObject({ _tag: "ZephyrWorkerError", reason: "no-workers", stage: 0 })
  })

  it("does not count a pool that is still starting as dead; a registration timeout covers it", () => {
    const s = make({ noWorkersTimeoutMs: 30_000, registrationTimeoutMs: 100_000 })
    for (let t = 0; t <= 99_000; t += 1_000) s.sweep(t)
    expect(s.fatal).toBeUndefined()
    s.sweep(100_000)
    expect(s.fatal?.message).toMatch(/^No worker registered within 100s/)
  })

  it("resets the timer when a worker comes back", () => {
    const s = make({ noWorkersTimeoutMs: 30_000 })
    s.register("w1", 0)
    s.workerExited("w1", 1_000, "exit")
    s.sweep(20_000)
    s.register("w1", 25_000)
    s.sweep(40_000)
    expect(s.fatal).toBeUndefined()
  })

  it("fails at once when the launcher says the pool is gone for good, without a pipeline retry", () => {
    const s = make()
    s.markPoolGone(10)
    expect(s.fatal?.message).toMatch(/worker pool terminated permanently/)
    expect(s.fatal).toMatchObject({ _tag: "ZephyrWorkerError", reason: "no-workers" })
  })

  it("does not fail when the pool goes away with nothing outstanding", () => {
    const s = make({}, 1)
    s.register("w1", 0)
    s.pull("w1", [], 1, 0)
    s.pull("w1", [done(s, 0)], 1, 1)
    s.markPoolGone(2)
    expect(s.fatal).toBeUndefined()
  })
})

describe("Scheduler: draining the last stage", () => {
  it("shuts idle workers down once the last stage's queue is empty, and backs off busy ones", () => {
    const s = make({}, 1, true)
    s.register("w1", 0); s.register("w2", 0)
    s.pull("w1", [], 1, 0)
    expect(s.pull("w2", [], 1, 1)).toMatchObject({ kind: "shutdown" })
    expect(s.workers.get("w2")!.state).toBe("gone")
    expect(s.pull("w1", [], 1, 2).kind).toBe("backoff")
  })

  it("never releases workers in an intermediate stage", () => {
    const s = make({}, 1, false)
    s.register("w1", 0); s.register("w2", 0)
    s.pull("w1", [], 1, 0)
    expect(s.pull("w2", [], 1, 1).kind).toBe("backoff")
  })
})

describe("Scheduler: fingerprints", () => {
  it("fails the execution when a worker rebuilt another plan", () => {
    const s = make()
    s.fingerprintMismatch("w1", "aaaa", "bbbb")
    expect(s.fatal?._tag).toBe("ZephyrFingerprintError")
    expect(s.fatal?.message).toContain("fingerprint bbbb")
  })
})

describe("Scheduler: batches", () => {
  it("hands out batches only while the queue is long compared with the alive workers", () => {
    const s = make({ maxTasksPerPull: 8 }, 20)
    s.register("w1", 0); s.register("w2", 0)
    expect(tasksOf(s.pull("w1", [], 8, 1))).toHaveLength(8)
    expect(tasksOf(s.pull("w2", [], 8, 1))).toHaveLength(6)
    expect(tasksOf(s.pull("w2", [], 8, 1))).toHaveLength(3)
    expect(tasksOf(s.pull("w2", [], 8, 1))).toHaveLength(1)
    expect(tasksOf(s.pull("w1", [], 8, 1))).toHaveLength(1)
    expect(s.run!.queue).toHaveLength(1)
  })
})

describe("Scheduler: idle backoff (how long an idle pull is held)", () => {
  const hold = { idlePollMaxMs: 10_000, heartbeatTimeoutMs: 120_000 }
  it.each([
    // idle pulls in a row, long poll, idlePollMaxMs, heartbeat timeout -> [least, most]
    [0, 1_000, 10_000, 120_000, 1_000, 1_000], // the first is the plain long poll
    [1, 1_000, 10_000, 120_000, 1_500, 2_000], // then doubled, times a jitter in [0.75, 1]
    [2, 1_000, 10_000, 120_000, 3_000, 4_000],
    [3, 1_000, 10_000, 120_000, 6_000, 8_000],
    [4, 1_000, 10_000, 120_000, 7_500, 10_000], // up to idlePollMaxMs
    [1_000, 1_000, 10_000, 120_000, 7_500, 10_000], // however long it stays idle
    [5, 1_000, 10_000, 8_000, 1_500, 2_000], // at most a quarter of the heartbeat timeout
    [5, 1_000, 10_000, 2_000, 1_000, 1_000], // never below the long poll (tests' short timeouts)
    [3, 1_000, 500, 120_000, 1_000, 1_000]
  ])("%i idle pull(s), long poll %i ms, cap %i ms, timeout %i ms: held %i to %i ms", (n, longPoll, idlePollMaxMs, heartbeatTimeoutMs, least, most) => {
    for (const id of ["w1", "w2", "worker-0042", "a-much-longer-worker-name-17"]) {
      const ms = idleHoldMs(n, id, longPoll, { idlePollMaxMs, heartbeatTimeoutMs })
      expect(ms).toBeGreaterThanOrEqual(least)
      expect(ms).toBeLessThanOrEqual(most)
    }
  })

  it("is deterministic, stays within [long poll, cap], and spreads a pool that went idle together", () => {
    fc.assert(fc.property(fc.nat(200), fc.string(), fc.integer({ min: 1, max: 5_000 }), (n, id, longPoll) => {
      const ms = idleHoldMs(n, id, longPoll, hold)
      expect(ms).toBe(idleHoldMs(n, id, longPoll, hold))
      expect(ms).toBeGreaterThanOrEqual(longPoll)
      expect(ms).toBeLessThanOrEqual(Math.max(longPoll, 10_000))
    }))
    const holds = new Set(Array.from({ length: 100 }, (_, i) => idleHoldMs(6, `w${i}`, 1_000, hold)))
    expect(holds.size).toBeGreaterThan(50)
  })

  it("grows with each idle pull in a row and starts over once the worker gets work or reports", () => {
    const s = new Scheduler(EXEC, { ...config, heartbeatTimeoutMs: 120_000 })
    s.register("w1", 0)
    expect(s.pull("w1", [], 1, 1).kind).toBe("backoff") // no stage yet
    const holds = [0, 1, 2, 3].map(() => s.idleHold("w1", 1_000))
    expect(holds[0]).toBe(1_000)
    expect(holds[3]).toBeGreaterThan(holds[1]!)
    s.startStage(0, [input(0), input(1)], false, 2)
    expect(tasksOf(s.pull("w1", [], 1, 3))).toEqual([[0, 0]])
    // Holding a shard: the plain long poll, not counted.
    expect(s.idleHold("w1", 1_000)).toBe(1_000)
    expect(tasksOf(s.pull("w1", [done(s, 0)], 1, 4))).toEqual([[1, 0]])
    expect(tasksOf(s.pull("w1", [done(s, 1)], 1, 5))).toBe("backoff")
    expect(s.idleHold("w1", 1_000)).toBe(1_000)
  })
})

describe("Scheduler: batch size", () => {
  it.each([
    // asked, queued, alive, cap -> size
    [1, 10_000, 2, 1024, 1], // a worker that just started asks for one
    [512, 10_000, 2, 1024, 512], // what it asked for while the queue is long
    [4096, 10_000, 2, 1024, 1024], // never more than the cap
    [512, 600, 2, 1024, 300], // its fair share near the tail
    [512, 3, 2, 1024, 1], // one at a time at the very end
    [512, 1, 2, 1024, 1],
    [512, 600, 0, 1024, 512], // no worker counted alive yet: the whole queue is fair
    [0, 10_000, 2, 1024, 0] // a report-only pull gets nothing
  ])("asked %i with %i queued, %i alive, cap %i: %i", (asked, queued, alive, cap, size) => {
    expect(batchSize(asked, queued, alive, cap)).toBe(size)
  })

  it("counts alive workers as they die and come back (fair share follows)", () => {
    const s = make({ maxTasksPerPull: 1024 }, 40)
    s.register("w1", 0); s.register("w2", 0)
    expect(tasksOf(s.pull("w1", [], 1024, 1))).toHaveLength(20) // 40 queued, 2 alive
    s.workerExited("w1", 2, "exit code 1") // its 20 go back: 40 queued, 1 alive
    expect(tasksOf(s.pull("w2", [], 1024, 3))).toHaveLength(40)
    s.register("w1", 4) // alive again: 2 alive, 0 queued
    expect(s.pull("w1", [], 1024, 5).kind).toBe("backoff")
  })
})

describe("Scheduler: batches and faults", () => {
  it("a worker dying while holding a batch: every task of the batch is re-queued with a bumped attempt", () => {
    const s = make({ maxTasksPerPull: 1024 }, 10)
    s.register("w1", 0); s.register("w2", 0)
    expect(tasksOf(s.pull("w1", [], 4, 1))).toEqual([[0, 0], [1, 0], [2, 0], [3, 0]])
    s.pull("w1", [done(s, 0)], 0, 2) // one delivered mid-batch
    s.workerExited("w1", 3, "killed by SIGKILL")
    expect(s.workers.get("w1")!.inFlight.size).toBe(0)
    expect(s.run!.shards.map((x) => [x.status, x.attempt]).slice(0, 4)).toEqual([["done", 0], ["queued", 1], ["queued", 1], ["queued", 1]])
    expect(s.run!.shards.slice(1, 4).map((x) => x.infraFailures)).toEqual([1, 1, 1])
    // behind what was queued already, in their order
    expect(tasksOf(s.pull("w2", [], 1024, 4))).toEqual([[4, 0], [5, 0], [6, 0], [7, 0], [8, 0], [9, 0], [1, 1], [2, 1], [3, 1]])
  })

  it("records a batch of reports with stale attempts, duplicates and another worker's shards mixed in: only the valid ones count", () => {
    const s = make({}, 6)
    s.register("w1", 0); s.register("w2", 0)
    expect(tasksOf(s.pull("w1", [], 3, 1))).toEqual([[0, 0], [1, 0], [2, 0]])
    s.register("w1", 2) // w1 restarted: 0, 1, 2 go back as attempt 1
    expect(tasksOf(s.pull("w2", [], 3, 3))).toEqual([[3, 0], [4, 0], [5, 0]])
    // fair share of 3 queued among 2 alive workers: one at a time
    expect([1, 2, 3].map((t) => tasksOf(s.pull("w1", [], 3, 3 + t)))).toEqual([[[0, 1]], [[1, 1]], [[2, 1]]])
    const batch = [
      done(s, 0, 1), // valid
      done(s, 1, 0), // stale attempt (the old process's)
      done(s, 0, 1), // duplicate of an accepted report
      done(s, 3, 0), // held by w2, not w1
      done(s, 2, 1), // valid
      done(s, 1, 0, { generation: s.generation - 1 }) // an old stage generation
    ]
    expect(s.pull("w1", batch, 0, 5).kind).toBe("backoff")
    expect(s.run!.shards.map((x) => x.status)).toEqual(["done", "running", "done", "running", "running", "running"])
    expect(s.run!.completed).toBe(2)
    expect(s.counters.n!.value).toBe(2) // counters merged once per accepted report
    expect([...s.workers.get("w1")!.inFlight]).toEqual([1])
    expect(s.drainEvents().filter((e) => e.message.startsWith("ignored")).length).toBe(4)
    s.pull("w2", [done(s, 3), done(s, 4), done(s, 5)], 0, 6)
    s.pull("w1", [done(s, 1, 1)], 0, 7)
    expect(s.outcome().kind).toBe("done")
  })

  it("a report-only pull (max 0) records reports and hands out nothing, and a worker still holding tasks is not released", () => {
    const s = make({}, 4, true)
    s.register("w1", 0)
    expect(tasksOf(s.pull("w1", [], 4, 1))).toHaveLength(4)
    expect(s.pull("w1", [done(s, 0), done(s, 1)], 0, 2)).toEqual({ kind: "backoff", ms: 0 })
    expect(s.workers.get("w1")!.state).toBe("alive")
    expect(s.run!.completed).toBe(2)
    expect(s.pull("w1", [done(s, 2), done(s, 3)], 8, 3)).toMatchObject({ kind: "shutdown" })
  })
})

describe("Scheduler: wake-ups only on change", () => {
  it("bumps its version when work is queued, the queue empties or the run fails; not per report or per hand-out", () => {
    const s = make({}, 4)
    s.register("w1", 0)
    let v = s.version
    s.pull("w1", [], 2, 1) // two left in the queue
    expect(s.version).toBe(v)
    s.pull("w1", [done(s, 0)], 0, 2)
    expect(s.version).toBe(v)
    s.pull("w1", [], 2, 3) // the queue empties: idle workers may be released
    expect(s.version).toBe(v + 1)
    v = s.version
    s.pull("w1", [failed(s, 1, 0)], 0, 4) // a retry is queued
    expect(s.version).toBe(v + 1)
    v = s.version
    s.pull("w1", [], 1, 5) // the retry handed out, queue empty again
    expect(s.version).toBe(v + 1)
    v = s.version
    expect(s.pull("w1", [], 1, 6).kind).toBe("backoff") // nothing to do: nothing changed
    expect(s.version).toBe(v)
  })

  it("is settled exactly when every shard is done or the run failed", () => {
    const s = make({}, 2)
    s.register("w1", 0)
    s.pull("w1", [], 2, 1)
    expect(s.settled()).toBe(false)
    s.pull("w1", [done(s, 0)], 0, 2)
    expect(s.settled()).toBe(false)
    s.pull("w1", [done(s, 1)], 0, 3)
    expect(s.settled()).toBe(true)
    const f = make({}, 2)
    f.abort(new ZephyrWorkerError({ reason: "aborted", message: "stop" }))
    expect(f.settled()).toBe(true)
  })
})

describe("ShardQueue", () => {
  it("is first in, first out across its compactions", () => {
    const q = new ShardQueue([0, 1, 2])
    const out: Array<number> = []
    for (let i = 3; i < 5_000; i++) {
      q.push(i)
      if (i % 3 !== 0) out.push(q.shift()!)
    }
    while (q.length > 0) out.push(q.shift()!)
    expect(out).toEqual(Array.from({ length: 5_000 }, (_, i) => i))
    expect(q.shift()).toBeUndefined()
    expect(q.length).toBe(0)
  })
})

describe("Scheduler: a registration under a known worker id (worker lifecycle)", () => {
  const entry = (state: "alive" | "failed" | "gone", incarnation = "p1", retired: Array<string> = []) => ({ state, incarnation, retired })
  // existing worker (state, incarnation, retired ones), incoming incarnation -> what it is
  const table: Array<[string, ReturnType<typeof entry> | undefined, string | undefined, ReturnType<typeof registrationOf>]> = [
    ["an unknown id", undefined, "p1", "new"],
    ["the same process after its connection broke", entry("alive", "p1"), "p1", "reconnected"],
    ["the same process after it was declared dead (a long cut)", entry("failed", "p1"), "p1", "reconnected"],
    ["a new process after the old one died (a restart: local, Slurm requeue, a replaced pod)", entry("failed", "p1"), "p2", "restarted"],
    ["a new process after the old one was let go", entry("gone", "p1"), "p2", "restarted"],
    ["a new process while the old one is alive: it takes over", entry("alive", "p1"), "p2", "replaced"],
    ["an old process that was replaced, coming back", entry("alive", "p2", ["p1"]), "p1", "refused"],
    ["an old process that was replaced, after its successor died", entry("failed", "p2", ["p1"]), "p1", "refused"],
    ["an in-memory worker (no incarnation) registering again", entry("alive", ""), undefined, "reconnected"]
  ]
  for (const [name, existing, incarnation, kind] of table) {
    it(`${name}: ${kind}`, () => { expect(registrationOf(existing, incarnation)).toBe(kind) })
  }

  it("a reconnect re-queues what the worker held as a new attempt: its late report is stale and ignored, the new attempt's counts once", () => {
    const s = make({}, 2)
    s.register("w1", 0, { incarnation: "p1", pid: 10, host: "a" })
    expect(tasksOf(s.pull("w1", [], 2, 1))).toEqual([[0, 0], [1, 0]])
    expect(s.register("w1", 2, { incarnation: "p1", pid: 10, host: "a" })).toEqual({ requeued: [0, 1], kind: "reconnected" })
    // The report of the broken session comes with the first pull after the reconnect.
    expect(tasksOf(s.pull("w1", [done(s, 0, 0)], 2, 3))).toEqual([[0, 1], [1, 1]])
    expect(s.run!.completed).toBe(0)
    s.pull("w1", [done(s, 0, 1), done(s, 1, 1), done(s, 0, 0)], 2, 4)
    expect(s.outcome().kind).toBe("done")
    expect(s.counters).toEqual({ n: { agg: "sum", value: 2, count: 2 } })
    expect(s.drainEvents().some((e) => e.level === "info" && /worker w1 reconnected; re-queued shard\(s\) 0, 1/.test(e.message))).toBe(true)
  })

  it("a new process while the old one is alive replaces it, with a warning naming both; the old one is fenced off and may not come back", () => {
    const s = make({}, 1)
    s.register("w1", 0, { incarnation: "p1", pid: 10, host: "a" })
    expect(tasksOf(s.pull("w1", [], 1, 1))).toEqual([[0, 0]])
    expect(s.register("w1", 2, { incarnation: "p2", pid: 20, host: "b" })).toEqual({ requeued: [0], kind: "replaced" })
    const warning = s.drainEvents().find((e) => e.level === "warn")?.message
    expect(warning).toContain("worker w1 registered again from a new process (pid 20 on b) while its previous process (pid 10 on a) was still alive")
    expect(s.isReplaced("w1", "p1")).toBe(true)
    expect(s.isReplaced("w1", "p2")).toBe(false)
    expect(s.register("w1", 3, { incarnation: "p1", pid: 10, host: "a" }).kind).toBe("refused")
    expect(s.workers.get("w1")).toMatchObject({ incarnation: "p2", pid: 20, host: "b", state: "alive" })
    expect(s.drainEvents().some((e) => e.level === "warn" && e.message.includes("refused a registration of worker w1 from pid 10 on a"))).toBe(true)
    // The shard the old process held goes to the new one, as a new attempt.
    expect(tasksOf(s.pull("w1", [], 1, 4))).toEqual([[0, 1]])
  })

  it("a restarted process (the old one died) is logged as a restart, not a takeover", () => {
    const s = make({}, 1)
    s.register("w1", 0, { incarnation: "p1", pid: 10, host: "a" })
    s.pull("w1", [], 1, 1)
    s.workerExited("w1", 2, "Slurm array task 7_1 CANCELLED")
    s.drainEvents()
    expect(s.register("w1", 3, { incarnation: "p2", pid: 11, host: "a" })).toEqual({ requeued: [], kind: "restarted" })
    expect(s.drainEvents().map((e) => e.message)).toContain("worker w1 re-registered (pid 11 on a)")
    expect(s.isReplaced("w1", "p1")).toBe(true)
  })

  it("a pod's failure seen after its replacement registered is the old pod's: the replacement keeps its shard", () => {
    const s = make({}, 1)
    s.register("w1", 0, { incarnation: "p1", pid: 1, host: "pool-w1-aaaaa" })
    s.pull("w1", [], 1, 1)
    // The replacement pod's worker registers before the launcher's poll sees the old pod fail.
    expect(s.register("w1", 2, { incarnation: "p2", pid: 1, host: "pool-w1-bbbbb" })).toEqual({ requeued: [0], kind: "replaced" })
    expect(tasksOf(s.pull("w1", [], 1, 3))).toEqual([[0, 1]])
    s.drainEvents()
    s.workerExited("w1", 4, "pod pool-w1-aaaaa failed: Error", false, "pool-w1-aaaaa")
    expect(s.workers.get("w1")).toMatchObject({ state: "alive", host: "pool-w1-bbbbb" })
    expect(s.drainEvents().filter((e) => e.level === "warn")).toEqual([])
    // Nothing was re-queued: the replacement's report of attempt 1 is the shard's result.
    s.pull("w1", [done(s, 0, 1)], 1, 5)
    expect(s.outcome().kind).toBe("done")
    // The replacement's own pod failing is its death.
    const t = make({}, 1)
    t.register("w1", 0, { incarnation: "p2", pid: 1, host: "pool-w1-bbbbb" })
    t.pull("w1", [], 1, 1)
    t.workerExited("w1", 2, "pod pool-w1-bbbbb failed: OOMKilled", true, "pool-w1-bbbbb")
    expect(t.workers.get("w1")?.state).toBe("failed")
    expect(t.drainEvents().map((e) => e.message)).toContain("worker w1 exited (pod pool-w1-bbbbb failed: OOMKilled); re-queued shard(s) 0")
  })

  it("once the run is complete, a worker's next pull tells it to shut down and lets it go", () => {
    const s = make({}, 1, true)
    s.register("w1", 0); s.register("w2", 0)
    s.pull("w1", [], 1, 1)
    s.pull("w1", [done(s, 0)], 1, 2)
    expect(s.aliveWorkers()).toBe(1) // w1 was released (last stage, nothing left); w2 never pulled
    s.end(3)
    expect(s.pull("w2", [], 1, 4)).toEqual({ kind: "shutdown", reason: "the run is complete" })
    expect(s.aliveWorkers()).toBe(0)
  })
})
