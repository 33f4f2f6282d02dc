import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import type { Report, ShardOutput } from "../../../rpc/Protocol.ts"
import { type Config, defaults, type HeldTask, Scheduler } from "../../../runtime/coordinator/Scheduler.ts"
import * as BlockFile from "../../../runtime/storage/BlockFile.ts"

// The Scheduler driven by random sequences of what workers and time can do to it:
// registrations (first and again, after a restart), pulls, finished tasks reported done or
// failed (user or infrastructure), late and duplicate reports (replayed by anyone),
// heartbeats, time passing with sweeps (silent workers declared dead), and process exits
// (out of memory among them). Whatever the sequence, its rules must hold.

const EXEC = "exec-p"

/** A cheap assertion for the invariants checked after every step. */
const must = (ok: boolean, what: string): void => { if (!ok) throw new Error(`invariant broken: ${what}`) }
const WORKERS = ["w0", "w1", "w2"]
const TIMEOUT = 10_000

type Action =
  | { readonly kind: "register"; readonly w: number }
  | { readonly kind: "pull"; readonly w: number; readonly max: number }
  | { readonly kind: "finish"; readonly w: number; readonly pick: number; readonly outcome: "done" | "failed" | "infra" }
  | { readonly kind: "deliver"; readonly w: number }
  | { readonly kind: "replay"; readonly w: number; readonly pick: number }
  | { readonly kind: "heartbeat"; readonly w: number }
  | { readonly kind: "advance"; readonly ms: number }
  | { readonly kind: "exit"; readonly w: number; readonly outOfMemory: boolean }

const worker = fc.nat({ max: WORKERS.length - 1 })
const action: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant("register" as const), w: worker }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("pull" as const), w: worker, max: fc.integer({ min: 1, max: 4 }) }), weight: 5 },
  { arbitrary: fc.record({ kind: fc.constant("finish" as const), w: worker, pick: fc.nat(), outcome: fc.constantFrom("done" as const, "done" as const, "failed" as const, "infra" as const) }), weight: 6 },
  { arbitrary: fc.record({ kind: fc.constant("deliver" as const), w: worker }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("replay" as const), w: worker, pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("heartbeat" as const), w: worker }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.integer({ min: 0, max: 2 * TIMEOUT }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant("exit" as const), w: worker, outOfMemory: fc.boolean() }), weight: 1 }
)

const counters = (shard: number): Report["counters"] => ({
  items: { agg: "sum", value: 10 + shard, count: 1 },
  [`shard-${shard}`]: { agg: "sum", value: 1, count: 1 }
})

const report = (task: HeldTask, outcome: "done" | "failed" | "infra"): Report => {
  const head = { executionId: EXEC, stage: task.stage, generation: task.generation, shard: task.shard, attempt: task.attempt, counters: counters(task.shard), durationMs: 1 }
  if (outcome === "done") return { kind: "done", ...head, output: { kind: "chunks", refs: [BlockFile.inline([task.shard, task.attempt])] } }
  const error = new ZephyrWorkerError({ reason: outcome === "infra" ? "internal" : "user-code", message: `attempt ${task.attempt} failed`, stage: task.stage, shard: task.shard })
  return { kind: "failed", ...head, error, permanent: false, ...(outcome === "infra" ? { infrastructure: true } : {}) }
}

const outputOf = (o: ShardOutput | undefined): unknown => (o?.kind === "chunks" && o.refs[0]?.kind === "inline" ? BlockFile.inlineItems(o.refs[0]) : o)

/** What the worker processes hold: tasks handed to them, and finished tasks' reports not delivered yet. */
interface Process { held: Array<HeldTask>; pending: Array<Report> }

/** Runs a stage of `shards` through `actions`, checking the invariants after every step. */
const drive = (config: Config, shards: number, isLast: boolean, actions: ReadonlyArray<Action>) => {
  const s = new Scheduler(EXEC, config)
  s.startStage(0, Array.from({ length: shards }, (_, index) => ({ input: { kind: "list" as const, index } })), isLast)
  const processes = new Map<string, Process>()
  const sent: Array<{ from: string; report: Report }> = []
  let now = 0
  let attempts = s.run!.shards.map((x) => x.attempt)
  let failedAt: number | undefined

  const lose = (id: string) => processes.delete(id)
  const deliver = (id: string, reports: ReadonlyArray<Report>, max: number) => {
    for (const r of reports) sent.push({ from: id, report: r })
    const response = s.pull(id, reports, max, now)
    if (response.kind === "tasks") processes.get(id)!.held.push(...response.tasks)
    if (response.kind === "shutdown") lose(id) // the worker exits
  }

  const check = (step: number) => {
    const run = s.run!
    // attempts only grow
    const current = run.shards.map((x) => x.attempt)
    current.forEach((a, i) => must(a >= attempts[i]!, `shard ${i}'s attempt went from ${attempts[i]} to ${a}`))
    attempts = current
    // no report counts twice: a shard's own counter is 1 once it is done, absent before
    for (const shard of run.shards) {
      must(s.counters[`shard-${shard.index}`]?.value === (shard.status === "done" ? 1 : undefined), `shard ${shard.index} (${shard.status}) counted ${s.counters[`shard-${shard.index}`]?.value ?? 0} times`)
    }
    if (s.fatal !== undefined) { failedAt ??= step; return }
    // the books agree with each other while the run goes on
    const queued = run.queue.toArray()
    must(new Set(queued).size === queued.length, `a shard is queued twice: ${queued}`)
    const holders = new Map<number, Array<string>>()
    for (const w of s.workers.values()) for (const i of w.inFlight) holders.set(i, [...(holders.get(i) ?? []), w.id])
    let done = 0
    for (const shard of run.shards) {
      const held = holders.get(shard.index) ?? []
      const inQueue = queued.includes(shard.index)
      if (shard.status === "done") done++
      if (shard.status === "running") must(held.length === 1 && held[0] === shard.worker && !inQueue, `running shard ${shard.index} of ${shard.worker} is held by [${held}]${inQueue ? " and queued" : ""}`)
      else must(held.length === 0 && inQueue === (shard.status === "queued"), `${shard.status} shard ${shard.index} is held by [${held}]${inQueue ? " and queued" : ""}`)
      // the accepted output is the current attempt's, never a stale one's
      if (shard.status === "done") must(JSON.stringify(outputOf(shard.output)) === JSON.stringify([shard.index, shard.attempt]), `done shard ${shard.index} (attempt ${shard.attempt}) took the output of ${JSON.stringify(outputOf(shard.output))}`)
      // a budget is reached by the failure that fails the run: while it goes on, none is
      must(shard.failures < config.maxShardFailures && shard.infraFailures < config.maxShardInfraFailures && shard.oomFailures < config.maxShardFailures, `shard ${shard.index} is past a failure budget and the run goes on`)
    }
    must(run.completed === done, `completed ${run.completed}, but ${done} shards are done`)
    const alive = [...s.workers.values()].filter((w) => w.state === "alive").length
    must((s as unknown as { alive: number }).alive === alive, `alive count ${(s as unknown as { alive: number }).alive}, but ${alive} workers are alive`)
  }

  actions.forEach((a, step) => {
    switch (a.kind) {
      case "register": {
        const id = WORKERS[a.w]!
        lose(id) // a (re-)registration is a fresh process: the old one's work is gone
        processes.set(id, { held: [], pending: [] })
        s.register(id, now)
        break
      }
      case "pull": {
        const p = processes.get(WORKERS[a.w]!)
        // a worker asks for more only once its batch is finished
        if (p && p.held.length === 0) { deliver(WORKERS[a.w]!, p.pending, a.max); p.pending = [] }
        break
      }
      case "finish": {
        const p = processes.get(WORKERS[a.w]!)
        if (!p || p.held.length === 0) break
        const [task] = p.held.splice(a.pick % p.held.length, 1)
        p.pending.push(report(task!, a.outcome))
        break
      }
      case "deliver": {
        const p = processes.get(WORKERS[a.w]!)
        if (p && p.pending.length > 0) { deliver(WORKERS[a.w]!, p.pending, 0); p.pending = [] }
        break
      }
      case "replay": {
        if (sent.length === 0) break
        const { report: r } = sent[a.pick % sent.length]!
        if (processes.has(WORKERS[a.w]!)) deliver(WORKERS[a.w]!, [r], 0)
        break
      }
      case "heartbeat":
        if (processes.has(WORKERS[a.w]!)) s.heartbeat(WORKERS[a.w]!, now)
        break
      case "advance":
        now += a.ms
        s.sweep(now)
        break
      case "exit":
        if (processes.has(WORKERS[a.w]!)) {
          lose(WORKERS[a.w]!)
          s.workerExited(WORKERS[a.w]!, now, "exit code 1", a.outOfMemory)
        }
        break
    }
    check(step)
  })
  return { s, sent, processes, failedAt, advance: (ms: number) => { now += ms; return now }, now: () => now, deliver }
}

/** Ends the stage without faults: every process exits, one fresh worker runs what is left. */
const drain = (d: ReturnType<typeof drive>) => {
  const { s } = d
  for (const id of [...d.processes.keys()]) { d.processes.delete(id); s.workerExited(id, d.now(), "exit code 0") }
  const id = "drainer"
  d.processes.set(id, { held: [], pending: [] })
  s.register(id, d.now())
  for (let i = 0; i < 10 * s.run!.shards.length + 10 && s.outcome().kind === "running"; i++) {
    const p = d.processes.get(id)
    if (!p) break
    const reports = p.held.map((t) => report(t, "done"))
    p.held = []
    d.deliver(id, reports, 4)
  }
}

const config: Config = {
  ...defaults,
  heartbeatTimeoutMs: TIMEOUT,
  startupGraceMs: 2 * TIMEOUT,
  sweepIntervalMs: 1_000,
  noWorkersTimeoutMs: 1e12,
  registrationTimeoutMs: 1e12,
  maxShardFailures: 1e9,
  maxShardInfraFailures: 1e9,
  maxTasksPerPull: 8
}

/** The counters of a fault-free run of `shards` shards. */
const faultFree = (shards: number, isLast: boolean) => {
  const s = new Scheduler(EXEC, config)
  s.startStage(0, Array.from({ length: shards }, (_, index) => ({ input: { kind: "list" as const, index } })), isLast)
  s.register("w", 0)
  let response = s.pull("w", [], shards, 0)
  while (response.kind === "tasks") response = s.pull("w", response.tasks.map((t) => report(t, "done")), shards, 0)
  expect(s.outcome().kind).toBe("done")
  return s.counters
}

const params = { seed: 20_240_611, numRuns: 100 }

describe("Scheduler properties", () => {
  it("whatever workers and time do, every shard completes exactly once, attempts only grow, and no report counts twice", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.boolean(), fc.array(action, { minLength: 10, maxLength: 120, size: "max" }), (shards, isLast, actions) => {
      const d = drive(config, shards, isLast, actions)
      expect(d.s.fatal).toBeUndefined()
      drain(d)
      const outcome = d.s.outcome()
      expect(outcome.kind).toBe("done")
      if (outcome.kind !== "done") return
      // each shard's accepted output is its own, and the counters are those of a fault-free run
      expect(outcome.outputs.map((o) => (outputOf(o) as Array<number>)[0]))
        .toEqual(Array.from({ length: shards }, (_, i) => i))
      expect(d.s.counters).toEqual(faultFree(shards, isLast))
      // every report ever sent, replayed into the next stage, is ignored there
      const counted = structuredClone(d.s.counters)
      d.s.startStage(1, [{ input: { kind: "list", index: 0 } }], false)
      d.s.register("late", d.now())
      d.s.pull("late", d.sent.map((x) => x.report), 0, d.now())
      for (const id of ["drainer", ...WORKERS]) if (d.s.workers.has(id)) d.s.pull(id, d.sent.map((x) => x.report), 0, d.now())
      expect(d.s.run!.completed).toBe(0)
      expect(d.s.counters).toEqual(counted)
    }), params)
  })

  it("with small failure budgets, a shard fails the run on the failure that reaches its budget, and nothing counts after", () => {
    const small = fc.record({ maxShardFailures: fc.integer({ min: 1, max: 3 }), maxShardInfraFailures: fc.integer({ min: 1, max: 4 }) })
    fc.assert(fc.property(small, fc.integer({ min: 1, max: 4 }), fc.array(action, { minLength: 10, maxLength: 120, size: "max" }), (budgets, shards, actions) => {
      const d = drive({ ...config, ...budgets }, shards, false, actions)
      if (d.failedAt === undefined) return
      const { s } = d
      const completed = s.run!.completed
      const counted = structuredClone(s.counters)
      // after the failure no report counts, not even the current attempts' own, and every pull is told to shut down
      for (const [id, p] of d.processes) {
        if (!s.workers.has(id)) continue
        expect(s.pull(id, [...p.pending, ...p.held.map((t) => report(t, "done"))], 4, d.now()).kind).toBe("shutdown")
      }
      s.register("after", d.now())
      expect(s.pull("after", d.sent.map((x) => x.report), 4, d.now()).kind).toBe("shutdown")
      expect(s.run!.completed).toBe(completed)
      expect(s.counters).toEqual(counted)
      expect(s.outcome().kind).toBe("failed")
    }), params)
  })
})
