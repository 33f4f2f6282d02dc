import * as path from "node:path"
import * as Describe from "../../compiler/explain/Describe.ts"
import { OpKind } from "../../plan/OpKind.ts"
import type * as Plan from "../../plan/Plan.ts"
import type * as Stage from "../../plan/Stage.ts"
import type * as StatusSnapshot from "../coordinator/StatusSnapshot.ts"

/**
 * What the dashboard shows, as data: the stage graph (from the plan, fixed for a run) and
 * the run's state, which `fromStatus` adapts from the coordinator's status (StatusSnapshot,
 * the one status every display reads). The page, the event stream and /metrics read only
 * these types. What the snapshot does not hold is only what spans the run's pipeline
 * attempts (each has a fresh coordinator): the throughput over time, the retries of
 * earlier attempts and the books of stages an earlier attempt completed.
 */

// ---- the stage graph ------------------------------------------------------------------------

export interface GraphLine {
  /** The op id (`o3`), `from` for the stage's input. */
  readonly head: string
  /** As explain prints it: `flatMap(splitWords)`, `groupBy(byWord) scatter, combiner partialCounts`. */
  readonly text: string
  /** The DSL call's `file:line`, relative to the working directory when inside it. */
  readonly where: string | null
}

export interface GraphStage {
  readonly id: number
  readonly kind: Stage.Kind
  /** `4 → 4 shards` (a `?` until the files are listed). */
  readonly shards: string
  /** Its tasks, when the plan knows them (null: a file source not listed yet). */
  readonly tasks: number | null
  readonly lines: ReadonlyArray<GraphLine>
  /** Why the stage ends (`shuffle: groupBy(byWord) → 4 shards`). */
  readonly ends: string
  /** Layout: the longest path from a source stage, and the order within that column. */
  readonly column: number
  readonly row: number
}

export interface GraphEdge {
  readonly from: number
  readonly to: number
  /** `shuffle`, `reshard`, `join`, or empty for a stage that reads another's shards as they are. */
  readonly label: string
}

export interface Graph {
  readonly fingerprint: string
  readonly stages: ReadonlyArray<GraphStage>
  readonly edges: ReadonlyArray<GraphEdge>
}

const where = (loc: { readonly file: string; readonly line: number }, cwd: string): string | null => {
  if (loc.line <= 0) return null
  const rel = path.isAbsolute(loc.file) ? path.relative(cwd, loc.file) : loc.file
  return `${rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : loc.file}:${loc.line}`
}

/** The graph of the plan's stages (the explain JSON's `stages`): one box per stage, edges for inputs and joins. */
export const graphOf = (plan: Plan.Plan, cwd: string): Graph => {
  const edges: Array<GraphEdge> = []
  const columns = new Map<number, number>()
  const rows = new Map<number, number>()
  const stages = plan.stages.map((stage): GraphStage => {
    const incoming: Array<GraphEdge> = []
    const input = stage.input
    if (input.kind !== "source") incoming.push({ from: input.stage, to: stage.id, label: input.kind === "stage" ? "" : input.kind })
    for (const op of stage.ops) if (op.kind === OpKind.sortedMergeJoin) incoming.push({ from: op.rightStage, to: stage.id, label: "join" })
    edges.push(...incoming)
    const column = incoming.length === 0 ? 0 : 1 + Math.max(...incoming.map((e) => columns.get(e.from) ?? 0))
    columns.set(stage.id, column)
    const row = rows.get(column) ?? 0
    rows.set(column, row + 1)
    return {
      id: stage.id,
      kind: stage.kind,
      shards: Describe.shards(stage.shards),
      tasks: stage.shards.in,
      lines: [
        { head: "from", text: Describe.input(input), where: input.kind === "source" ? where(input.source.source, cwd) : null },
        ...stage.ops.map((op) => ({ head: op.id, text: Describe.op(op), where: where(op.source, cwd) }))
      ],
      ends: stage.boundary.detail,
      column,
      row
    }
  })
  return { fingerprint: plan.fingerprint, stages, edges }
}

// ---- the run --------------------------------------------------------------------------------

export type RunState = "starting" | "running" | "succeeded" | "failed" | "interrupted"

export interface StageView {
  readonly id: number
  /** `skipped`: completed by an earlier run (resume) or a reshard the coordinator does itself; `stopped`: the run was interrupted while it ran. */
  readonly state: StatusSnapshot.StageState | "stopped"
  /** Why a skipped stage did not run here. */
  readonly skipped: string | null
  /** Shards: null while unknown (a file source not listed yet). */
  readonly total: number | null
  readonly done: number
  readonly inFlight: number
  readonly queued: number
  readonly retries: number
  readonly recordsIn: number
  readonly recordsOut: number
  readonly bytesIn: number
  readonly bytesOut: number
  /** Wall time so far (running) or in all; null before it started. */
  readonly elapsedMs: number | null
}

export interface WorkerView {
  readonly id: string
  readonly state: StatusSnapshot.WorkerPhase
  /** How long ago the coordinator last heard from it; null before it registered. */
  readonly heartbeatAgeMs: number | null
  /** How long it has been in `state`. */
  readonly stateAgeMs: number
  readonly shards: ReadonlyArray<number>
  readonly inFlight: number
  readonly tasksDone: number
  readonly deaths: number
}

/** `fatal`: the failure that ended the run; the others are retries (an attempt that failed and was handed out again). */
export type FailureKind = StatusSnapshot.Retry["cause"] | "fatal"

export interface FailureView {
  /** The pipeline attempt (a retry of the whole pipeline starts a new one). */
  readonly run: number
  readonly stage: number | null
  readonly shard: number | null
  readonly attempt: number | null
  readonly worker: string | null
  readonly kind: FailureKind
  readonly message: string
  /** The user's DSL call (`file:line`) of the op that threw, when known. */
  readonly where: string | null
  /** When, in ms since the run started. */
  readonly atMs: number
}

export interface CounterView {
  readonly stage: number
  readonly name: string
  readonly value: number
  /** Zephyr's own (`zephyr/...`), not the user's. */
  readonly builtIn: boolean
}

/** Records per second over the interval ending at `atMs` (ms since the run started). */
export interface ThroughputPoint {
  readonly atMs: number
  readonly inPerSec: number
  readonly outPerSec: number
}

export interface View {
  readonly executionId: string | null
  /** The pipeline attempt shown (0, then 1 after a retry of the whole pipeline). */
  readonly attempt: number
  readonly state: RunState
  readonly error: string | null
  readonly elapsedMs: number
  readonly stages: ReadonlyArray<StageView>
  readonly workers: ReadonlyArray<WorkerView>
  readonly workerCounts: StatusSnapshot.WorkerCounts
  readonly failures: ReadonlyArray<FailureView>
  readonly counters: ReadonlyArray<CounterView>
  readonly retries: number
  readonly throughput: ReadonlyArray<ThroughputPoint>
  /** Records counted so far, when the last throughput point was taken: the next point is computed from it. */
  readonly sampled: { readonly atMs: number; readonly in: number; readonly out: number } | null
}

/** Points kept for the throughput chart: past this, every other one is dropped (the chart's resolution halves). */
export const throughputPoints = 240
/** The shortest interval between two throughput points. */
export const throughputIntervalMs = 1_000
/** Failures kept across pipeline attempts (the snapshot keeps the latest 50 retries of its own). */
export const failuresKept = 50

export interface Context {
  readonly graph: Graph
  /** The view before this status (or undefined): what earlier statuses showed and this one no longer does. */
  readonly previous: View | undefined
  /** Wall-clock ms since the run started. */
  readonly elapsedMs: number
  readonly attempt: number
  /** Set once the run is over. */
  readonly ended?: { readonly state: "succeeded" | "failed" | "interrupted"; readonly error: string | null } | undefined
  readonly cwd: string
}

const noWorkers: StatusSnapshot.WorkerCounts = { total: 0, alive: 0, starting: 0, ready: 0, busy: 0, idle: 0, dead: 0, released: 0 }

const pendingStage = (g: GraphStage): StageView => ({
  id: g.id, state: "pending", skipped: null, total: g.tasks, done: 0, inFlight: 0, queued: g.tasks ?? 0, retries: 0,
  recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0, elapsedMs: null
})

const stageView = (s: StatusSnapshot.Stage, ended: Context["ended"]): StageView => {
  const state: StageView["state"] = s.state !== "running" ? s.state
    : ended?.state === "interrupted" ? "stopped" : ended?.state === "failed" ? "failed" : "running"
  const live = state === "running"
  return {
    id: s.id, state, skipped: s.skipped, total: s.shards.total, done: s.shards.done,
    inFlight: live ? s.shards.inFlight : 0, queued: live ? s.shards.queued : 0, retries: s.retries,
    recordsIn: s.io.recordsIn, recordsOut: s.io.recordsOut, bytesIn: s.io.bytesIn, bytesOut: s.io.bytesOut, elapsedMs: s.elapsedMs
  }
}

const failureKey = (f: FailureView): string => `${f.run}/${f.kind}/${f.stage}/${f.shard}/${f.attempt}/${f.worker}`

/**
 * The adapter: the coordinator's status (undefined before the first coordinator exists),
 * folded over the previous view, gives the view. A stage that a fresh coordinator (a retry
 * of the whole pipeline) skips because an earlier attempt completed it keeps the books that
 * attempt showed.
 */
export const fromStatus = (status: StatusSnapshot.Snapshot | undefined, context: Context): View => {
  const { graph, previous, elapsedMs, attempt, ended } = context
  const before = new Map(previous?.stages.map((s) => [s.id, s]))
  const byId = new Map(status?.stageProgress.map((s) => [s.id, s]))
  const kept = new Set<number>()
  const stages = graph.stages.map((g): StageView => {
    const s = byId.get(g.id)
    const old = before.get(g.id)
    if (s === undefined) return old ?? pendingStage(g)
    if (s.state === "skipped" && old?.state === "done") { kept.add(g.id); return old }
    return stageView(s, ended)
  })

  // The retries this coordinator saw, the failure that ended it, and those of earlier attempts.
  const ageOf = (atMs: number) => (status === undefined ? 0 : Math.max(0, status.atMs - atMs))
  const current: Array<FailureView> = (status?.recentRetries ?? []).map((r) => ({
    run: attempt, stage: r.stage, shard: r.shard, attempt: r.attempt, worker: r.worker, kind: r.cause, message: r.message,
    where: r.file !== undefined && r.line !== undefined ? where({ file: r.file, line: r.line }, context.cwd) : null,
    atMs: Math.max(0, elapsedMs - ageOf(r.atMs))
  }))
  const fatal = status?.failure
  if (fatal) {
    current.push({
      run: attempt, stage: fatal.stage, shard: fatal.shard, attempt: null, worker: fatal.worker, kind: "fatal", message: fatal.message,
      where: fatal.file !== null && fatal.line !== null ? where({ file: fatal.file, line: fatal.line }, context.cwd) : null,
      atMs: elapsedMs
    })
  }
  // A failure's time is read from its age: keep the first reading, so it does not jitter.
  const seenAt = new Map(previous?.failures.map((f) => [failureKey(f), f.atMs]))
  const failures = [...(previous?.failures.filter((f) => f.run !== attempt) ?? []), ...current]
    .slice(-failuresKept)
    .map((f) => ({ ...f, atMs: seenAt.get(failureKey(f)) ?? f.atMs }))

  const counters: Array<CounterView> = []
  for (const stage of stages) {
    if (kept.has(stage.id)) counters.push(...(previous?.counters.filter((c) => c.stage === stage.id) ?? []))
    else for (const [name, value] of Object.entries(byId.get(stage.id)?.counters ?? {})) counters.push({ stage: stage.id, name, value, builtIn: name.startsWith("zephyr/") })
  }

  const totalIn = stages.reduce((n, s) => n + s.recordsIn, 0)
  const totalOut = stages.reduce((n, s) => n + s.recordsOut, 0)
  const { sampled, throughput } = sample(previous, elapsedMs, totalIn, totalOut, ended !== undefined)
  return {
    executionId: status?.executionId ?? previous?.executionId ?? null,
    attempt,
    state: ended?.state ?? (status === undefined ? "starting" : status.fatalError !== null ? "failed" : "running"),
    error: ended?.error ?? status?.fatalError ?? null,
    elapsedMs,
    stages,
    workers: (status?.workers ?? []).map((w) => ({
      id: w.id, state: w.state, heartbeatAgeMs: w.heartbeatAgeMs, stateAgeMs: w.stateAgeMs, shards: w.shards,
      inFlight: w.inFlight, tasksDone: w.tasksDone, deaths: w.deaths
    })),
    workerCounts: status?.workerCounts ?? noWorkers,
    failures,
    counters,
    retries: stages.reduce((n, s) => n + s.retries, 0),
    throughput,
    sampled
  }
}

/** Adds a throughput point when a second has passed since the last (or the run ended), thinning old ones past the limit. */
const sample = (previous: View | undefined, atMs: number, totalIn: number, totalOut: number, last: boolean): Pick<View, "sampled" | "throughput"> => {
  const throughput = previous?.throughput ?? []
  const prior = previous?.sampled
  const now = { atMs, in: totalIn, out: totalOut }
  if (!prior) return { sampled: now, throughput }
  const dt = atMs - prior.atMs
  if (dt < throughputIntervalMs && !(last && dt > 0)) return { sampled: prior, throughput }
  // Counts restart with a fresh coordinator (a retried pipeline): never a negative rate.
  const point = { atMs, inPerSec: Math.max(0, (totalIn - prior.in) * 1000 / dt), outPerSec: Math.max(0, (totalOut - prior.out) * 1000 / dt) }
  const next = [...throughput, point]
  return { sampled: now, throughput: next.length > throughputPoints ? thinRates(next) : next }
}

/** Two neighbouring intervals merged into one: the rate over the longer interval. */
const thinRates = (xs: ReadonlyArray<ThroughputPoint>): Array<ThroughputPoint> => {
  const out: Array<ThroughputPoint> = []
  for (let i = 0; i < xs.length; i += 2) {
    const a = xs[i]!
    const b = xs[i + 1]
    if (!b) { out.push(a); continue }
    const start = i === 0 ? a.atMs - throughputIntervalMs : xs[i - 1]!.atMs
    const da = a.atMs - start, db = b.atMs - a.atMs
    out.push({ atMs: b.atMs, inPerSec: (a.inPerSec * da + b.inPerSec * db) / (da + db), outPerSec: (a.outPerSec * da + b.outPerSec * db) / (da + db) })
  }
  return out
}

/** The parts of a view that tick on their own (ages, elapsed times), left out when comparing. */
const steady = (v: View) => ({
  ...v, elapsedMs: 0, sampled: null,
  stages: v.stages.map((s) => ({ ...s, elapsedMs: s.elapsedMs === null })),
  workers: v.workers.map((w) => ({ ...w, heartbeatAgeMs: w.heartbeatAgeMs === null, stateAgeMs: 0 }))
})

/** Whether two views differ in more than the clock (ages and elapsed time tick on their own). */
export const changed = (a: View | undefined, b: View): boolean =>
  a === undefined || JSON.stringify(steady(a)) !== JSON.stringify(steady(b))
