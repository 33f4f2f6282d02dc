import { Schema } from "effect"
import * as CounterSet from "../task/CounterSet.ts"
import { StageIo } from "../../rpc/Protocol.ts"
import type * as Scheduler from "./Scheduler.ts"

/**
 * Where an execution is, as data: the one status that the `Status` RPC answers, the
 * terminal progress draws, the end-of-run summary is made from, and the dashboard and
 * metrics read. `of` is a pure function of the scheduler's books and the time; nothing
 * here changes them.
 *
 * - every stage of the plan, pending, running, done, failed or skipped (completed by an
 *   earlier run, or a reshard the coordinator does itself), with its shards (done, in
 *   flight, queued), wall time, built-in counters (records and bytes in and out), user
 *   counters, retries grouped by cause and place (file:line), and the files its writes
 *   published, by directory;
 * - every worker, with its phase (starting, ready, busy on shards S, idle, dead, released),
 *   how long it has been in it and how long ago it was last heard from;
 * - the latest retries, and the failure that ended the execution.
 *
 * Times are milliseconds from the coordinator's Clock. With a stage filter, the stages,
 * counters and retries are only that stage's.
 */

export const WorkerPhase = Schema.Literal("starting", "ready", "busy", "idle", "dead", "released")
export type WorkerPhase = typeof WorkerPhase.Type

/** The most shards a busy worker is listed with (a batch may hold hundreds). */
export const MAX_LISTED_SHARDS = 16

export const Worker = Schema.Struct({
  id: Schema.String,
  state: WorkerPhase,
  /** Shards of the running stage it holds (the first MAX_LISTED_SHARDS); `inFlight` counts them all. */
  shards: Schema.Array(Schema.Number),
  inFlight: Schema.Number,
  /** Since its last message (heartbeat, pull, registration); null before it registered. */
  heartbeatAgeMs: Schema.NullOr(Schema.Number),
  /** How long it has been in `state`. */
  stateAgeMs: Schema.Number,
  tasksDone: Schema.Number,
  /** Times it was declared dead or seen exiting. */
  deaths: Schema.Number
})
export type Worker = typeof Worker.Type

export const WorkerCounts = Schema.Struct({
  /** Every worker known: registered or starting. */
  total: Schema.Number,
  /** Registered and not dead nor released (starting after registration, ready, busy, idle). */
  alive: Schema.Number,
  starting: Schema.Number,
  ready: Schema.Number,
  busy: Schema.Number,
  idle: Schema.Number,
  dead: Schema.Number,
  released: Schema.Number
})
export type WorkerCounts = typeof WorkerCounts.Type

export const RetryCause = Schema.Literal("user-error", "worker-lost", "infrastructure", "out-of-memory")

/** One retry: the attempt of `shard` that failed, where and why. */
export const Retry = Schema.Struct({
  stage: Schema.Number,
  shard: Schema.Number,
  attempt: Schema.Number,
  worker: Schema.String,
  cause: RetryCause,
  message: Schema.String,
  file: Schema.optional(Schema.String),
  line: Schema.optional(Schema.Number),
  atMs: Schema.Number
})
export type Retry = typeof Retry.Type

/** Retries of a stage with the same cause, place and message (the first line). */
export const RetryGroup = Schema.Struct({
  cause: RetryCause,
  message: Schema.String,
  file: Schema.optional(Schema.String),
  line: Schema.optional(Schema.Number),
  count: Schema.Number,
  lastShard: Schema.Number,
  lastWorker: Schema.String
})
export type RetryGroup = typeof RetryGroup.Type

export const StageState = Schema.Literal("pending", "running", "done", "failed", "skipped")
export type StageState = typeof StageState.Type

export const Stage = Schema.Struct({
  id: Schema.Number,
  kind: Schema.String,
  state: StageState,
  /** Why a skipped stage did not run here. */
  skipped: Schema.NullOr(Schema.String),
  shards: Schema.Struct({ total: Schema.Number, done: Schema.Number, inFlight: Schema.Number, queued: Schema.Number }),
  startedAtMs: Schema.NullOr(Schema.Number),
  /** Wall time so far (running) or in all (ended). */
  elapsedMs: Schema.NullOr(Schema.Number),
  io: StageIo,
  counters: Schema.Record({ key: Schema.String, value: Schema.Number }),
  retries: Schema.Number,
  retryGroups: Schema.Array(RetryGroup),
  /** Retries beyond the groups kept. */
  otherRetries: Schema.Number,
  /** Files its writes published, by directory (the first directories; `otherFiles` counts the rest). */
  outputs: Schema.Struct({
    files: Schema.Number,
    dirs: Schema.Array(Schema.Struct({ dir: Schema.String, files: Schema.Number })),
    otherFiles: Schema.Number
  })
})
export type Stage = typeof Stage.Type

export const Failure = Schema.Struct({
  tag: Schema.String,
  reason: Schema.String,
  message: Schema.String,
  stage: Schema.NullOr(Schema.Number),
  shard: Schema.NullOr(Schema.Number),
  worker: Schema.NullOr(Schema.String),
  file: Schema.NullOr(Schema.String),
  line: Schema.NullOr(Schema.Number)
})
export type Failure = typeof Failure.Type

export const Snapshot = Schema.Struct({
  executionId: Schema.String,
  /** When this snapshot was taken, and when the execution's first stage started (null before). */
  atMs: Schema.Number,
  startedAtMs: Schema.NullOr(Schema.Number),
  /** How many stages the plan has. */
  stages: Schema.Number,
  /** The running (or last started) stage. */
  stage: Schema.NullOr(Schema.Number),
  /** Shards of that stage. */
  completed: Schema.Number,
  total: Schema.Number,
  inFlight: Schema.Number,
  queued: Schema.Number,
  retries: Schema.Number,
  /** That stage is over (done, or the execution failed). */
  done: Schema.Boolean,
  fatalError: Schema.NullOr(Schema.String),
  failure: Schema.NullOr(Failure),
  stageProgress: Schema.Array(Stage),
  workers: Schema.Array(Worker),
  workerCounts: WorkerCounts,
  /** User and runtime counters, of every stage or of `counterStage`. */
  counters: Schema.Record({ key: Schema.String, value: Schema.Number }),
  counterStage: Schema.NullOr(Schema.Number),
  recentRetries: Schema.Array(Retry)
})
export type Snapshot = typeof Snapshot.Type

/** What the plan says of a stage. */
export interface StageInfo {
  readonly id: number
  readonly kind: string
  /** Its shard count, when the plan knows it. */
  readonly shards?: number | undefined
}

export interface Filter {
  /** Only this stage's progress, counters and retries. */
  readonly stage?: number | undefined
}

const stageOf = (scheduler: Scheduler.Scheduler, info: StageInfo, now: number): Stage => {
  const log = scheduler.stageLogs.get(info.id)
  const run = scheduler.run
  const current = run !== undefined && run.stage === info.id ? run : undefined
  let inFlight = 0
  if (current) for (const w of scheduler.workers.values()) inFlight += w.inFlight.size
  const total = log?.shards ?? info.shards ?? 0
  const state: StageState = log === undefined ? "pending" : log.state
  return {
    id: info.id,
    kind: info.kind,
    state,
    skipped: log?.skipped ?? null,
    shards: {
      total,
      done: current ? current.completed : state === "done" || state === "skipped" ? total : 0,
      inFlight,
      queued: current ? current.queue.length : 0
    },
    startedAtMs: log?.startedAt ?? null,
    elapsedMs: log === undefined ? null : (log.endedAt ?? now) - log.startedAt,
    io: log ? { ...log.io } : { recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0 },
    counters: log ? CounterSet.values(log.counters) : {},
    retries: log?.retries ?? 0,
    retryGroups: log ? [...log.retryGroups.values()].map((g) => ({ ...g })) : [],
    otherRetries: log?.otherRetries ?? 0,
    outputs: {
      files: log?.outputFiles ?? 0,
      dirs: log ? [...log.outputDirs].map(([dir, files]) => ({ dir, files })) : [],
      otherFiles: log?.otherOutputFiles ?? 0
    }
  }
}

const workerOf = (w: Scheduler.WorkerEntry, now: number): Worker => ({
  id: w.id,
  state: w.phase,
  shards: [...w.inFlight].slice(0, MAX_LISTED_SHARDS),
  inFlight: w.inFlight.size,
  heartbeatAgeMs: now - w.lastSeen,
  stateAgeMs: now - w.phaseSince,
  tasksDone: w.tasksDone,
  deaths: w.deaths
})

const countWorkers = (scheduler: Scheduler.Scheduler, workers: ReadonlyArray<Worker>): WorkerCounts => {
  const c = { total: workers.length, alive: 0, starting: 0, ready: 0, busy: 0, idle: 0, dead: 0, released: 0 }
  for (const w of workers) c[w.state]++
  for (const w of scheduler.workers.values()) if (w.state === "alive") c.alive++
  return c
}

const failureOf = (e: Scheduler.Failure): Failure => ({
  tag: e._tag,
  reason: e.reason,
  message: e.message,
  stage: "stage" in e && e.stage !== undefined ? e.stage : null,
  shard: "shard" in e && e.shard !== undefined ? e.shard : null,
  worker: "worker" in e && typeof e.worker === "string" ? e.worker : null,
  file: "file" in e && e.file !== undefined ? e.file : null,
  line: "line" in e && e.line !== undefined ? e.line : null
})

/** The status of the scheduler's execution at `now`, for the plan's `stages`. */
export const of = (scheduler: Scheduler.Scheduler, now: number, stages: ReadonlyArray<StageInfo>, filter: Filter = {}): Snapshot => {
  const run = scheduler.run
  const workers: Array<Worker> = [...scheduler.workers.values()].map((w) => workerOf(w, now))
  for (const [id, since] of scheduler.launching) {
    workers.push({ id, state: "starting", shards: [], inFlight: 0, heartbeatAgeMs: null, stateAgeMs: now - since, tasksDone: 0, deaths: 0 })
  }
  const known = new Set(stages.map((s) => s.id))
  // Stages the coordinator ran but the caller did not describe still show.
  const described = [...stages, ...[...scheduler.stageLogs.keys()].filter((id) => !known.has(id)).map((id) => ({ id, kind: "stage" }))]
  const wanted = filter.stage === undefined ? described : described.filter((s) => s.id === filter.stage)
  const stageProgress = wanted.sort((a, b) => a.id - b.id).map((s) => stageOf(scheduler, s, now))
  let startedAtMs: number | null = null
  for (const log of scheduler.stageLogs.values()) if (startedAtMs === null || log.startedAt < startedAtMs) startedAtMs = log.startedAt
  let inFlight = 0
  for (const w of scheduler.workers.values()) inFlight += w.inFlight.size
  const counters = filter.stage === undefined
    ? CounterSet.values(scheduler.counters)
    : CounterSet.values(scheduler.stageLogs.get(filter.stage)?.counters ?? {})
  const retries = scheduler.recentRetries.filter((r) => filter.stage === undefined || r.stage === filter.stage)
  return {
    executionId: scheduler.executionId,
    atMs: now,
    startedAtMs,
    stages: stages.length,
    stage: run?.stage ?? null,
    completed: run?.completed ?? 0,
    total: run?.shards.length ?? 0,
    inFlight: run ? inFlight : 0,
    queued: run?.queue.length ?? 0,
    retries: run?.retries ?? 0,
    done: scheduler.outcome().kind !== "running",
    fatalError: scheduler.fatal?.message ?? null,
    failure: scheduler.fatal ? failureOf(scheduler.fatal) : null,
    stageProgress,
    workers,
    workerCounts: countWorkers(scheduler, workers),
    counters,
    counterStage: filter.stage ?? null,
    recentRetries: retries.map(({ at, ...r }) => ({ ...r, atMs: at }))
  }
}
