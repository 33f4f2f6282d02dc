import * as fs from "node:fs"
import * as path from "node:path"
import * as BlockFile from "../../../runtime/storage/BlockFile.ts"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Logger, LogLevel, Option, TestClock } from "effect"
import type { OutputCommit, Report } from "../../../rpc/Protocol.ts"
import * as Coordinator from "../../../runtime/coordinator/Coordinator.ts"
import { defaults } from "../../../runtime/coordinator/Scheduler.ts"
import * as Outputs from "../../../runtime/formats/OutputCommit.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tmp = useTempDirs("zephyr-coordinator-")

// The coordinator service in virtual time: no process, no socket, no real clock.
const spec = { executionId: "e1", fingerprint: "f", executionDir: "/nowhere", heartbeatIntervalMs: 500, memoryBudgetBytes: 1 << 20, sharedNames: [] }
const make = (config: Partial<typeof defaults> = {}) =>
  Coordinator.make({ spec, stages: 1, longPollMs: 1_000, config: { ...defaults, heartbeatTimeoutMs: 2_000, startupGraceMs: 0, sweepIntervalMs: 500, noWorkersTimeoutMs: 5_000, ...config } })
const inputs = (n: number) => Array.from({ length: n }, (_, index) => ({ input: { kind: "list" as const, index } }))
const register = (c: Coordinator.Coordinator, workerId: string) => c.handlers.Register({ workerId, fingerprint: "f", pid: 1, host: "h" })
const doneReport = (task: { stage: number; generation: number; shard: number; attempt: number }): Report => ({
  kind: "done", executionId: "e1", stage: task.stage, generation: task.generation, shard: task.shard, attempt: task.attempt,
  counters: {}, durationMs: 1, output: { kind: "chunks", refs: [BlockFile.inline([task.shard])] }
})

describe("Coordinator", () => {
  it.scoped("runs a stage through pulls and reports, results in shard order", () =>
    Effect.gen(function* () {
      const c = yield* make()
      yield* register(c, "w1")
      const stage = yield* Effect.fork(c.runStage(0, inputs(3), true))
      yield* Effect.yieldNow()
      const first = yield* c.handlers.Pull({ workerId: "w1", reports: [], max: 8 })
      expect(first.kind).toBe("tasks")
      const tasks = first.kind === "tasks" ? first.tasks : []
      expect(tasks.map((t) => t.shard)).toEqual([0, 1, 2])
      const last = yield* c.handlers.Pull({ workerId: "w1", reports: [...tasks].reverse().map(doneReport), max: 8 })
      expect(last.kind).toBe("shutdown")
      const outputs = yield* Fiber.join(stage)
      expect(outputs.map((o) => (o.kind === "chunks" && o.refs[0]?.kind === "inline" ? BlockFile.inlineItems(o.refs[0])[0] : null))).toEqual([0, 1, 2])
    }))

  it.scoped("holds an idle worker's pull until work appears (long poll), without time passing", () =>
    Effect.gen(function* () {
      const c = yield* make()
      yield* register(c, "w1")
      const pull = yield* Effect.fork(c.handlers.Pull({ workerId: "w1", reports: [], max: 1 }))
      yield* Effect.yieldNow()
      yield* Effect.fork(c.runStage(0, inputs(1), false))
      const response = yield* Fiber.join(pull)
      expect(response).toMatchObject({ kind: "tasks", tasks: [{ shard: 0, attempt: 0 }] })
    }))

  it.scoped("answers backoff after the long poll when there is still nothing", () =>
    Effect.gen(function* () {
      const c = yield* make()
      yield* register(c, "w1")
      const pull = yield* Effect.fork(c.handlers.Pull({ workerId: "w1", reports: [], max: 1 }))
      yield* TestClock.adjust("1 second")
      expect((yield* Fiber.join(pull)).kind).toBe("backoff")
    }))

  it.scoped("idle long-polls do not wake each other: each asks twice (now, and when its poll expires)", () =>
    Effect.gen(function* () {
      const c = yield* make()
      let calls = 0
      const pull = c.scheduler.pull.bind(c.scheduler)
      c.scheduler.pull = (...args) => { calls++; return pull(...args) }
      const workers = ["a", "b", "c", "d", "e", "f", "g", "h"]
      for (const w of workers) yield* register(c, w)
      const polls = yield* Effect.forEach(workers, (workerId) => Effect.fork(c.handlers.Pull({ workerId, reports: [], max: 1 })))
      yield* Effect.yieldNow()
      expect(calls).toBe(8)
      yield* TestClock.adjust("1 second")
      for (const p of polls) expect((yield* Fiber.join(p)).kind).toBe("backoff")
      expect(calls).toBe(16)
    }))

  it.scoped("the sweeper re-queues the shard of a silent worker after the heartbeat timeout", () =>
    Effect.gen(function* () {
      const c = yield* make()
      yield* register(c, "silent")
      yield* register(c, "healthy")
      yield* Effect.fork(c.runStage(0, inputs(1), false))
      yield* Effect.yieldNow()
      const held = yield* c.handlers.Pull({ workerId: "silent", reports: [], max: 1 })
      expect(held).toMatchObject({ kind: "tasks", tasks: [{ shard: 0, attempt: 0 }] })
      for (let i = 0; i < 6; i++) {
        yield* TestClock.adjust("500 millis")
        yield* c.handlers.Heartbeat({ workerId: "healthy" })
      }
      expect(c.scheduler.workers.get("silent")!.state).toBe("failed")
      const retry = yield* c.handlers.Pull({ workerId: "healthy", reports: [], max: 1 })
      expect(retry).toMatchObject({ kind: "tasks", tasks: [{ shard: 0, attempt: 1 }] })
    }))

  it.scoped("fails the stage with no alive workers after noWorkersTimeout", () =>
    Effect.gen(function* () {
      const c = yield* make()
      yield* register(c, "w1")
      const stage = yield* Effect.fork(c.runStage(0, inputs(2), false))
      yield* TestClock.adjust("3 seconds") // w1 silent: declared dead on the sweep after 2 s
      expect(c.scheduler.workers.get("w1")!.state).toBe("failed")
      yield* TestClock.adjust("3 seconds")
      expect(Option.isNone(yield* Fiber.poll(stage))).toBe(true) // ~3.5 s without alive workers: still waiting
      yield* TestClock.adjust("2 seconds")
      const exit = yield* Fiber.await(stage)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        expect(JSON.stringify(exit.cause)).toContain("No alive workers")
        expect(Cause.failureOption(exit.cause)).toMatchObject({ value: { _tag: "ZephyrWorkerError", reason: "no-workers" } })
      }
    }))

  it.scoped("declares a silent worker dead exactly after the timeout, in TestClock time, once it has sent a heartbeat", () =>
    Effect.gen(function* () {
      // the start-up grace runs well past the timeout, but ends with the first heartbeat
      const c = yield* make({ startupGraceMs: 10_000 })
      yield* register(c, "w1")
      yield* register(c, "w2")
      yield* Effect.fork(c.runStage(0, inputs(1), false))
      yield* c.handlers.Heartbeat({ workerId: "w1" })
      for (let t = 500; t <= 2_000; t += 500) {
        yield* TestClock.adjust("500 millis")
        yield* c.handlers.Heartbeat({ workerId: "w2" })
        expect(c.scheduler.workers.get("w1")!.state).toBe("alive") // silent for 2 s: not past the timeout yet
      }
      yield* TestClock.adjust("500 millis") // the first sweep past the timeout
      expect(c.scheduler.workers.get("w1")!.state).toBe("failed")
      expect(c.scheduler.workers.get("w2")!.state).toBe("alive")
    }))

  it.scoped("a defect in the sweeper fails the execution instead of silently ending the liveness checks", () =>
    Effect.gen(function* () {
      const c = yield* make()
      yield* register(c, "w1")
      const stage = yield* Effect.fork(c.runStage(0, inputs(1), false))
      c.scheduler.sweep = () => { throw new Error("sweep bug") }
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(stage)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const failure = Cause.failureOption(exit.cause)
        expect(failure).toMatchObject({ value: { _tag: "ZephyrWorkerError", reason: "internal" } })
        expect(Option.getOrThrow(failure).message).toMatch(/liveness checks stopped \(sweep bug\)/)
      }
    }))
})

describe("Coordinator: output commits", () => {
  /** What attempt `attempt` of a write would leave: its file under a pending name, and the report naming it. */
  const written = (target: string, attempt: number, content: string): OutputCommit => {
    const pending = Outputs.pendingPath(target, attempt)
    fs.writeFileSync(pending, content)
    return { pending, target }
  }
  const withCommit = (task: { stage: number; generation: number; shard: number; attempt: number }, commit: OutputCommit): Report =>
    ({ ...doneReport(task), commit }) as Report

  it.scoped("publishes only the accepted attempt's file; a late attempt's file is removed, never renamed over it", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const target = path.join(dir, "part-0.jsonl")
      const c = yield* make()
      yield* register(c, "slow")
      yield* register(c, "fast")
      const stage = yield* Effect.fork(c.runStage(0, inputs(1), true))
      yield* Effect.yieldNow()
      const first = yield* c.handlers.Pull({ workerId: "slow", reports: [], max: 1 })
      expect(first).toMatchObject({ kind: "tasks", tasks: [{ shard: 0, attempt: 0 }] })
      for (let i = 0; i < 6; i++) { // "slow" pauses past the timeout
        yield* TestClock.adjust("500 millis")
        yield* c.handlers.Heartbeat({ workerId: "fast" })
      }
      const retry = yield* c.handlers.Pull({ workerId: "fast", reports: [], max: 1 })
      expect(retry).toMatchObject({ kind: "tasks", tasks: [{ shard: 0, attempt: 1 }] })
      const accepted = written(target, 1, "from fast\n")
      yield* c.handlers.Pull({ workerId: "fast", reports: [withCommit(retry.kind === "tasks" ? retry.tasks[0]! : ({} as never), accepted)], max: 1 })
      yield* Fiber.join(stage)
      expect(fs.readFileSync(target, "utf8")).toBe("from fast\n")
      // the paused worker comes back and reports its attempt: its file goes, the output stays
      const late = written(target, 0, "from slow\n")
      yield* c.handlers.Pull({ workerId: "slow", reports: [withCommit(first.kind === "tasks" ? first.tasks[0]! : ({} as never), late)], max: 1 })
      expect(fs.readFileSync(target, "utf8")).toBe("from fast\n")
      expect(fs.readdirSync(dir)).toEqual(["part-0.jsonl"])
    }))

  it.scoped("an accepted attempt whose file cannot be published is an infrastructure failure: the shard runs again", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const target = path.join(dir, "part-0.jsonl")
      const c = yield* make()
      yield* register(c, "w1")
      yield* Effect.fork(c.runStage(0, inputs(1), false))
      yield* Effect.yieldNow()
      const first = yield* c.handlers.Pull({ workerId: "w1", reports: [], max: 1 })
      const task = first.kind === "tasks" ? first.tasks[0]! : ({} as never)
      const lost: OutputCommit = { pending: Outputs.pendingPath(target, 0), target } // never written
      const next = yield* c.handlers.Pull({ workerId: "w1", reports: [withCommit(task, lost)], max: 1 })
      expect(next).toMatchObject({ kind: "tasks", tasks: [{ shard: 0, attempt: 1 }] })
      expect(c.scheduler.run!.shards[0]).toMatchObject({ infraFailures: 1, failures: 0 })
      expect(fs.existsSync(target)).toBe(false)
    }))


  it.scoped("refuses a worker whose plan has another fingerprint, and fails the run", () =>
    Effect.gen(function* () {
      const c = yield* make()
      const stage = yield* Effect.fork(c.runStage(0, inputs(1), false))
      const err = yield* Effect.flip(c.handlers.Register({ workerId: "w1", fingerprint: "other", pid: 1, host: "h" }))
      expect(err._tag).toBe("ZephyrFingerprintError")
      const exit = yield* Fiber.await(stage)
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("fingerprint")
    }))

  it.scoped("an idle pool backs off: a few pulls per worker per idle minute, no log lines, and work still reaches a held pull at once", () =>
    Effect.gen(function* () {
      const lines: Array<string> = []
      const c = yield* make({ heartbeatTimeoutMs: 120_000, noWorkersTimeoutMs: 600_000 }).pipe(
        Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => { lines.push(String(message)) }))),
        Logger.withMinimumLogLevel(LogLevel.All)
      )
      const workers = ["w1", "w2", "w3", "w4"]
      for (const w of workers) yield* register(c, w)
      const pulls = new Map(workers.map((w) => [w, 0]))
      let tasks = 0
      // What Worker.run does with a pull's answer: sleep `ms` after a backoff, then ask again.
      const loop = (workerId: string) => Effect.forever(Effect.gen(function* () {
        pulls.set(workerId, pulls.get(workerId)! + 1)
        const r = yield* c.handlers.Pull({ workerId, reports: [], max: 1 })
        if (r.kind === "tasks") tasks += r.tasks.length
        if (r.kind === "backoff") yield* Effect.sleep(Duration.millis(r.ms))
      }))
      for (const w of workers) yield* Effect.forkScoped(loop(w))
      for (let s = 0; s < 60; s++) yield* TestClock.adjust("1 second")
      // Before: a pull every 1.2 s (1 s long poll, then 200 ms), about 50 a minute each.
      for (const w of workers) expect(pulls.get(w)!).toBeLessThanOrEqual(12)
      const before = lines.length
      for (let s = 0; s < 60; s++) yield* TestClock.adjust("1 second")
      for (const w of workers) expect(pulls.get(w)!).toBeLessThanOrEqual(12 + 8)
      expect(lines.slice(before)).toEqual([]) // an idle minute logs nothing, at any level
      // Deep in their backoff, every worker is parked at the coordinator: new work wakes them without time passing.
      yield* Effect.forkScoped(c.runStage(0, inputs(4), false))
      for (let i = 0; i < 20 && tasks < 4; i++) yield* Effect.yieldNow()
      expect(tasks).toBe(4)
    }))

  it.scoped("a worker id taken over by a new process: the old process is refused, told to stop, and its pending output removed", () =>
    Effect.gen(function* () {
      const dir = tmp()
      const target = path.join(dir, "part-0.jsonl")
      const c = yield* make()
      const as = (incarnation: string, pid: number) => c.handlers.Register({ workerId: "w1", fingerprint: "f", pid, host: "h", incarnation })
      yield* as("old", 10)
      yield* Effect.fork(c.runStage(0, inputs(1), true))
      yield* Effect.yieldNow()
      const held = yield* c.handlers.Pull({ workerId: "w1", reports: [], max: 1, incarnation: "old" })
      expect(held).toMatchObject({ kind: "tasks", tasks: [{ shard: 0, attempt: 0 }] })
      yield* as("new", 20)
      // The old process: its heartbeat does not make it register again, its pull stops it.
      expect(yield* c.handlers.Heartbeat({ workerId: "w1", incarnation: "old" })).toEqual({ known: true })
      const late = written(target, 0, "from the old process\n")
      const told = yield* c.handlers.Pull({ workerId: "w1", reports: [withCommit(held.kind === "tasks" ? held.tasks[0]! : ({} as never), late)], max: 1, incarnation: "old" })
      expect(told).toEqual({ kind: "shutdown", reason: "replaced: a newer process registered as worker w1" })
      expect(fs.existsSync(late.pending)).toBe(false)
      const refused = yield* Effect.flip(as("old", 10))
      expect(refused).toMatchObject({ _tag: "ZephyrInfraError", reason: "worker-replaced" })
      expect(refused.message).toContain("Give every worker process its own --worker-id")
      // The new process gets the shard as a new attempt.
      expect(yield* c.handlers.Pull({ workerId: "w1", reports: [], max: 1, incarnation: "new" })).toMatchObject({ kind: "tasks", tasks: [{ shard: 0, attempt: 1 }] })
    }))

  it.scoped("at the end of a run, a held pull is told to shut down at once, and `end` waits for the others' next pull, at most its grace", () =>
    Effect.gen(function* () {
      const c = yield* make()
      yield* register(c, "holder")
      yield* register(c, "idle")
      yield* register(c, "silent")
      const stage = yield* Effect.fork(c.runStage(0, inputs(1), false))
      yield* Effect.yieldNow()
      const task = yield* c.handlers.Pull({ workerId: "holder", reports: [], max: 1 })
      const idle = yield* Effect.fork(c.handlers.Pull({ workerId: "idle", reports: [], max: 1 }))
      yield* Effect.yieldNow()
      expect((yield* c.handlers.Pull({ workerId: "holder", reports: [doneReport(task.kind === "tasks" ? task.tasks[0]! : ({} as never))], max: 0 })).kind).toBe("backoff")
      yield* Fiber.join(stage)
      const ending = yield* Effect.fork(c.end(2_000))
      yield* Effect.yieldNow()
      expect(yield* Fiber.join(idle)).toEqual({ kind: "shutdown", reason: "the run is complete" })
      expect(yield* c.handlers.Pull({ workerId: "holder", reports: [], max: 1 })).toEqual({ kind: "shutdown", reason: "the run is complete" })
      // "silent" never pulls again: the grace bounds the wait.
      expect(Option.isNone(yield* Fiber.poll(ending))).toBe(true)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(ending)
      expect(c.scheduler.aliveWorkers()).toBe(1)
    }))
})
