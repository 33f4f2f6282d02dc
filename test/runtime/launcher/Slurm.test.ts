import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, TestClock } from "effect"
import type * as Executable from "../../../executable/Executable.ts"
import * as Coordinator from "../../../runtime/coordinator/Coordinator.ts"
import { defaults } from "../../../runtime/coordinator/Scheduler.ts"
import * as Slurm from "../../../runtime/launcher/Slurm.ts"
import * as SlurmCommands from "../../../runtime/launcher/SlurmCommands.ts"
import * as SlurmOptions from "../../../runtime/launcher/SlurmOptions.ts"

// The slurm launcher's decisions against a scripted Slurm (SlurmCommands' test layer) and a
// real coordinator in virtual time: what it submits, how squeue's states reach the
// coordinator, when the pool is gone, and that the array is always cancelled.
const spec = {
  executionId: "e1", fingerprint: "f", executionDir: "/shared/chunks/e1", heartbeatIntervalMs: 500,
  memoryBudgetBytes: 256 << 20, sharedNames: [], module: { path: "/work/pipeline.ts", args: {} }
}
const config = { ...defaults, heartbeatTimeoutMs: 600_000, startupGraceMs: 0, sweepIntervalMs: 500, noWorkersTimeoutMs: 600_000 }

/** A Slurm whose squeue answers what the test last set; every command is recorded. */
type Answer = (call: SlurmCommands.Invocation) => Effect.Effect<string, SlurmCommands.SlurmCommandError> | undefined

const scripted = (answer: Answer = () => undefined) => {
  const calls: Array<SlurmCommands.Invocation> = []
  const state = { squeue: "0|PENDING\n1|PENDING\n", sbatch: Effect.succeed("42\n") as Effect.Effect<string, SlurmCommands.SlurmCommandError> }
  const layer = SlurmCommands.layerTest((call) => {
    const given = answer(call)
    if (given) return given
    switch (call.program) {
      case "sbatch": return state.sbatch
      case "squeue": return Effect.succeed(state.squeue)
      case "sacct": return Effect.fail(new SlurmCommands.SlurmCommandError({ program: "sacct", message: "Slurm accounting storage is disabled", code: 1 }))
      case "scancel": return Effect.succeed("")
      case "scontrol": return Effect.succeed("")
    }
  }, calls)
  return { calls, state, layer }
}

const failing = (message: string) => (call: SlurmCommands.Invocation) =>
  call.program === "squeue" ? Effect.fail(new SlurmCommands.SlurmCommandError({ program: "squeue", message, code: 1 })) : undefined

const setup = (options: Partial<Slurm.Options> = {}, answer?: Answer, scheduling: Partial<typeof config> = {}, maxWorkerRestarts = 0) =>
  Effect.gen(function* () {
    const coordinator = yield* Coordinator.make({ spec, stages: 1, config: { ...config, ...scheduling } })
    const slurm = scripted(answer)
    const scope = yield* Scope.make()
    const start = Slurm.start({ listen: "127.0.0.1:0", token: "tok-secret-1", slurm: SlurmOptions.none, ...options }, {
      name: "e1-a0", coordinator, spec, executable: undefined as unknown as Executable.Executable, layer: undefined, shared: {}, workers: 2, maxWorkerRestarts
    }).pipe(Scope.extend(scope), Effect.provide(slurm.layer))
    return { coordinator, slurm, scope, start }
  })

/** Closing a pool's scope after a success waits for its workers to end (in virtual time): the other tests end otherwise. */
const over = Exit.fail("test over")

const register = (c: Coordinator.Coordinator, workerId: string) => c.handlers.Register({ workerId, fingerprint: "f", pid: 1, host: "node1" })
const workerStates = (c: Coordinator.Coordinator) =>
  Effect.map(c.status, (s) => Object.fromEntries(s.workers.map((w) => [w.id, w.state])))

describe("Slurm launcher", () => {
  it.scoped("submits the workers as one array with the address and token in sbatch's environment, nowhere else", () =>
    Effect.gen(function* () {
      const { slurm, start, scope } = yield* setup({ slurm: SlurmOptions.resolve({ partition: "batch", time: "2h" }, "slurm", 384) })
      yield* start
      const sbatch = slurm.calls[0]!
      expect(sbatch.program).toBe("sbatch")
      expect(sbatch.args).toEqual(expect.arrayContaining(["--parsable", "--array=0-1", "--export=ALL", "--partition=batch", "--time=0-02:00:00", "--output=/shared/chunks/e1/slurm-%A_%a.log"]))
      expect(sbatch.env?.ZEPHYR_TOKEN).toBe("tok-secret-1")
      expect(sbatch.env?.ZEPHYR_COORDINATOR).toMatch(/^127\.0\.0\.1:\d+$/)
      expect(sbatch.input).toContain(`--worker-id e1-a0-w"$SLURM_ARRAY_TASK_ID"`)
      expect(`${sbatch.args.join(" ")}\n${sbatch.input}`).not.toContain("tok-secret-1")
      yield* Scope.close(scope, over)
    }))

  it.scoped("a task squeue lists CANCELLED is a dead worker at once: its shard is re-queued", () =>
    Effect.gen(function* () {
      const { coordinator, slurm, start, scope } = yield* setup()
      yield* start
      yield* register(coordinator, "e1-a0-w0")
      yield* register(coordinator, "e1-a0-w1")
      yield* Effect.fork(coordinator.runStage(0, [{ input: { kind: "list", index: 0 } }, { input: { kind: "list", index: 1 } }], false))
      yield* Effect.yieldNow()
      const held = yield* coordinator.handlers.Pull({ workerId: "e1-a0-w1", reports: [], max: 1 })
      expect(held.kind).toBe("tasks")
      slurm.state.squeue = "0|RUNNING\n1|RUNNING\n"
      yield* TestClock.adjust("2 seconds")
      const before = yield* workerStates(coordinator)
      expect(before["e1-a0-w0"]).not.toBe("dead")
      expect(before["e1-a0-w1"]).not.toBe("dead")
      slurm.state.squeue = "0|RUNNING\n1|CANCELLED\n"
      yield* TestClock.adjust("2 seconds")
      const after = yield* workerStates(coordinator)
      expect(after["e1-a0-w0"]).not.toBe("dead")
      expect(after["e1-a0-w1"]).toBe("dead")
      const status = yield* coordinator.status
      expect(status).toMatchObject({ inFlight: 0, queued: 2, retries: 1 })
      yield* Scope.close(scope, over)
    }))

  it.scoped("restart policy: a lost task is requeued (same task id, so the same worker id) up to maxWorkerRestarts times; the pool is not gone meanwhile", () =>
    Effect.gen(function* () {
      const { coordinator, slurm, start, scope } = yield* setup({}, undefined, {}, 2)
      const pool = yield* start
      const gone = yield* Effect.fork(pool.gone)
      yield* coordinator.handlers.Register({ workerId: "e1-a0-w1", fingerprint: "f", pid: 1, host: "node1", incarnation: "first" })
      yield* Effect.fork(coordinator.runStage(0, [{ input: { kind: "list", index: 0 } }], false))
      yield* Effect.yieldNow()
      const scontrol = () => slurm.calls.filter((c) => c.program === "scontrol").map((c) => c.args.join(" "))
      for (const restart of [1, 2, 3]) {
        slurm.state.squeue = "0|COMPLETED\n1|RUNNING\n"
        yield* TestClock.adjust("2 seconds")
        slurm.state.squeue = "0|COMPLETED\n1|CANCELLED\n"
        yield* TestClock.adjust("2 seconds")
        expect((yield* workerStates(coordinator))["e1-a0-w1"]).toBe(restart <= 2 ? "starting" : "dead")
        expect(scontrol().length).toBe(2 * Math.min(restart, 2))
        if (restart <= 2) {
          expect(gone.unsafePoll()).toBeNull()
          // The requeued task's worker registers under the same id, as a new process.
          yield* coordinator.handlers.Register({ workerId: "e1-a0-w1", fingerprint: "f", pid: 1 + restart, host: "node1", incarnation: `restart-${restart}` })
          expect((yield* workerStates(coordinator))["e1-a0-w1"]).not.toBe("dead")
        }
      }
      expect(scontrol().slice(0, 2)).toEqual(["requeue 42_1", "update JobId=42_1 StartTime=now"])
      // Restarts used up: the task stays lost, and with every task ended the pool is gone.
      yield* Fiber.join(gone)
      yield* Scope.close(scope, over)
    }))

  it.scoped("restart policy: no requeue once the run is over, nor with maxWorkerRestarts 0", () =>
    Effect.gen(function* () {
      const { slurm, start, scope } = yield* setup()
      yield* start
      slurm.state.squeue = "0|RUNNING\n1|FAILED\n"
      yield* TestClock.adjust("2 seconds")
      expect(slurm.calls.some((c) => c.program === "scontrol")).toBe(false)
      yield* Scope.close(scope, over)
    }))

  it.scoped("a task Slurm killed for its memory (OUT_OF_MEMORY) counts against its shard's out-of-memory budget", () =>
    Effect.gen(function* () {
      const { coordinator, slurm, start, scope } = yield* setup({}, undefined, { maxShardFailures: 1 })
      yield* start
      yield* register(coordinator, "e1-a0-w0")
      yield* Effect.fork(coordinator.runStage(0, [{ input: { kind: "list", index: 0 } }], false))
      yield* Effect.yieldNow()
      expect((yield* coordinator.handlers.Pull({ workerId: "e1-a0-w0", reports: [], max: 1 })).kind).toBe("tasks")
      slurm.state.squeue = "0|OUT_OF_MEMORY\n1|RUNNING\n"
      yield* TestClock.adjust("2 seconds")
      const status = yield* coordinator.status
      expect(status.fatalError).toContain("Shard 0 of stage 0 ran out of memory")
      expect(status.fatalError).toContain("Slurm array task 42_0 OUT_OF_MEMORY; its output: /shared/chunks/e1/slurm-42_0.log")
      yield* Scope.close(scope, over)
    }))

  it.scoped("the pool is gone when every task has ended; a task dropped unseen from squeue counts as lost", () =>
    Effect.gen(function* () {
      const { slurm, start, scope } = yield* setup()
      const pool = yield* start
      const gone = yield* Effect.fork(pool.gone)
      slurm.state.squeue = "0|RUNNING\n"
      yield* TestClock.adjust("2 seconds")
      expect(slurm.calls.map((c) => c.program)).toEqual(["sbatch", "squeue", "sacct"])
      expect(gone.unsafePoll()).toBeNull()
      slurm.state.squeue = "0|FAILED\n"
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(gone)
      yield* Scope.close(scope, over)
    }))

  it.scoped("a forgotten job (squeue: invalid job id) has ended", () =>
    Effect.gen(function* () {
      const { start, scope } = yield* setup({}, failing("slurm_load_jobs error: Invalid job id specified"))
      const pool = yield* start
      const gone = yield* Effect.fork(pool.gone)
      yield* TestClock.adjust("2 seconds")
      yield* Fiber.join(gone)
      yield* Scope.close(scope, over)
    }))

  it.scoped("failing squeue calls end nothing: the heartbeat timeout stays the judge", () =>
    Effect.gen(function* () {
      const { coordinator, slurm, start, scope } = yield* setup({}, failing("slurm_load_jobs error: Unable to contact slurm controller (connect failure)"))
      const pool = yield* start
      yield* register(coordinator, "e1-a0-w0")
      const gone = yield* Effect.fork(pool.gone)
      yield* TestClock.adjust("20 seconds")
      expect(gone.unsafePoll()).toBeNull()
      expect((yield* workerStates(coordinator))["e1-a0-w0"]).not.toBe("dead")
      expect(slurm.calls.filter((c) => c.program === "squeue").length).toBe(10)
      yield* Scope.close(scope, over)
    }))

  it.scoped("cancels the array when the pool's scope closes on a failure or an interruption, at once", () =>
    Effect.gen(function* () {
      for (const exit of [Exit.fail("boom"), Exit.interrupt(0 as never)]) {
        const { slurm, start, scope } = yield* setup()
        yield* start
        yield* Scope.close(scope, exit as Exit.Exit<unknown, unknown>)
        expect(slurm.calls.map((c) => [c.program, ...c.args])).toEqual([expect.arrayContaining(["sbatch"]), ["scancel", "42"]])
      }
    }))

  it.scoped("after a success, lets the released workers end as COMPLETED before cancelling what is left", () =>
    Effect.gen(function* () {
      const { slurm, start, scope } = yield* setup()
      yield* start
      slurm.state.squeue = "0|COMPLETING\n1|RUNNING\n"
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("500 millis")
      expect(closing.unsafePoll()).toBeNull()
      slurm.state.squeue = "0|COMPLETED\n1|COMPLETED\n"
      yield* TestClock.adjust("250 millis")
      yield* Fiber.join(closing)
      expect(slurm.calls.map((c) => c.program)).toEqual(["sbatch", "squeue", "squeue", "squeue", "squeue", "scancel"])
    }))

  it.scoped("after a success, cancels anyway when the workers have not ended within 5 s", () =>
    Effect.gen(function* () {
      const { slurm, start, scope } = yield* setup()
      yield* start
      slurm.state.squeue = "0|RUNNING\n1|RUNNING\n"
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      yield* TestClock.adjust("4 seconds")
      expect(closing.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(closing)
      expect(slurm.calls.at(-1)).toMatchObject({ program: "scancel", args: ["42"] })
    }))

  it.scoped("a refused submission fails the pool with sbatch's message (launch-failed, not retried) and cancels nothing", () =>
    Effect.gen(function* () {
      const { slurm, start, scope } = yield* setup()
      slurm.state.sbatch = Effect.fail(new SlurmCommands.SlurmCommandError({ program: "sbatch", message: "sbatch: error: invalid partition specified: gpu", code: 1 }))
      const error = yield* Effect.flip(start)
      expect(error).toMatchObject({ _tag: "ZephyrInfraError", reason: "launch-failed", retryable: false })
      expect(error.message).toContain("sbatch could not submit the 2 worker(s) as a job array: sbatch: error: invalid partition specified: gpu")
      yield* Scope.close(scope, Exit.void)
      expect(slurm.calls.map((c) => c.program)).toEqual(["sbatch"])
    }))

  it.scoped("an sbatch answer without a job id is a failed submission", () =>
    Effect.gen(function* () {
      const { slurm, start } = yield* setup()
      slurm.state.sbatch = Effect.succeed("Submitted batch job 42\n")
      const error = yield* Effect.flip(start)
      expect(error).toMatchObject({ reason: "launch-failed" })
      expect(error.message).toContain('it answered "Submitted batch job 42" instead of a job id')
    }))

  it.scoped("refuses a dataset without a module: workers rebuild it from one", () =>
    Effect.gen(function* () {
      const coordinator = yield* Coordinator.make({ spec, stages: 1, config })
      const { module: _, ...noModule } = spec
      const error = yield* Effect.flip(Slurm.start({ listen: "127.0.0.1:0", slurm: SlurmOptions.none }, {
        name: "e1-a0", coordinator, spec: noModule, executable: undefined as unknown as Executable.Executable, layer: undefined, shared: {}, workers: 2, maxWorkerRestarts: 0
      }).pipe(Effect.provide(scripted().layer)))
      expect(error).toMatchObject({ _tag: "ZephyrInfraError", reason: "unsupported-backend" })
    }))
})
