import * as path from "node:path"
import * as CounterSet from "../task/CounterSet.ts"
import { withMessage, ZephyrFingerprintError, ZephyrInfraError, ZephyrWorkerError } from "../../plan/Errors.ts"
import type { PullResponse, Report, ShardInput, ShardOutput, Task } from "../../rpc/Protocol.ts"
import * as SegmentIndex from "../shuffle/SegmentIndex.ts"
import { ShardQueue } from "./ShardQueue.ts"
import * as RunOptions from "../RunOptions.ts"

/**
 * The coordinator's decisions, with no I/O and no clock: every method takes `now`. The
 * Effect service around it (Coordinator) only moves messages and time. Rules (from the
 * reference's production incidents):
 * - a worker silent for `heartbeatTimeoutMs` is FAILED and its in-flight shards are
 *   re-queued as infrastructure failures; a re-registering worker is alive again and what
 *   it held is re-queued; every re-queue bumps the shard's attempt; a new worker has a
 *   start-up grace until its first heartbeat;
 * - reports with a stale attempt, an old stage generation, an unknown execution, for a
 *   finished shard, from a worker not holding the shard, or after the execution failed
 *   are ignored;
 * - user errors re-queue until `maxShardFailures`; infrastructure failures (a lost worker,
 *   a disk error) have their own cap, `maxShardInfraFailures`, and the shard prefers
 *   another worker next; a shard whose worker ran out of memory `maxShardFailures` times
 *   fails the run; a permanent data error fails at once; a shard fails on the failure
 *   that reaches its budget;
 * - with no alive worker (alive, not registered) for `noWorkersTimeoutMs` while work is
 *   outstanding the run fails; a pool that is gone for good fails it at once; neither is
 *   retried as a pipeline (a fresh pool would most likely die the same way);
 * - during the last stage, once its queue is empty, idle workers are told to shut down;
 * - a pull gets a batch of what the worker asks for, capped by `maxTasksPerPull` and by its
 *   fair share of the queue (`batchSize`), so the tail still balances.
 * Work per event is O(1) in the number of shards and workers (a report, a handed-out task);
 * only sweeps and status visit every worker.
 *
 * It also keeps the books a status needs (StatusSnapshot reads them): each worker's phase
 * and since when, each stage's times, built-in counters (records and bytes in and out),
 * user counters, retries with their causes, and the files its writes published.
 */
export interface Config {
  readonly maxShardFailures: number
  readonly maxShardInfraFailures: number
  readonly heartbeatTimeoutMs: number
  readonly noWorkersTimeoutMs: number
  /** A worker is not declared dead within this long of registering (start-up is slow), unless it has sent a heartbeat since. */
  readonly startupGraceMs: number
  /** With work outstanding and no worker ever registered, fail after this long (the pool never came up). */
  readonly registrationTimeoutMs: number
  /** Give idle workers `shutdown` once the last stage has nothing left to hand out. */
  readonly drainIdle: boolean
  readonly maxTasksPerPull: number
  /** The longest an idle worker's pull is held (idleHoldMs). */
  readonly idlePollMaxMs: number
  /** A sweep that runs this much later than scheduled means the coordinator itself stalled. */
  readonly sweepIntervalMs: number
}

export const defaults: Config = {
  maxShardFailures: RunOptions.defaults.maxShardFailures,
  maxShardInfraFailures: RunOptions.defaults.maxShardInfraFailures,
  heartbeatTimeoutMs: RunOptions.defaults.heartbeatTimeoutMs,
  noWorkersTimeoutMs: RunOptions.defaults.noWorkersTimeoutMs,
  startupGraceMs: 30_000,
  registrationTimeoutMs: RunOptions.defaults.noWorkersTimeoutMs,
  drainIdle: true,
  maxTasksPerPull: RunOptions.defaults.maxTasksPerPull,
  idlePollMaxMs: RunOptions.defaults.idlePollMaxMs,
  sweepIntervalMs: 1_000
}

export type WorkerState = "alive" | "failed" | "gone"

/**
 * What a worker is doing, as people read it: registered but not yet asking for work (it
 * builds its layer), or started again after it died (`starting`); asking for work but never
 * given any (`ready`); holding shards (`busy`); between tasks (`idle`); declared dead or
 * exited (`dead`); let go at the end of the run (`released`).
 */
export type WorkerPhase = "starting" | "ready" | "busy" | "idle" | "dead" | "released"

export interface WorkerEntry {
  readonly id: string
  state: WorkerState
  lastSeen: number
  registeredAt: number
  /** It sent a heartbeat (or a pull) since it registered: its start-up grace is over. */
  started: boolean
  /** Shards of the current stage this worker holds. */
  inFlight: Set<number>
  /** Requests of this worker the coordinator is handling right now (a held Pull, say). */
  activeRequests: number
  /** Its pulls held idle since it last had work or reported (idleHoldMs). */
  idlePulls: number
  tasksDone: number
  deaths: number
  /** Its process was started again after it died and has not registered yet. */
  relaunched: boolean
  /** The process registered under this id now: its incarnation (random per process), pid and host. */
  incarnation: string
  pid: number | undefined
  host: string | undefined
  /** Incarnations replaced by a newer process under this id (the latest few): they may not come back. */
  retired: Array<string>
  phase: WorkerPhase
  /** When it entered `phase`. */
  phaseSince: number
}

/** A worker's phase, from its state and what it holds. */
export const phaseOf = (w: Pick<WorkerEntry, "state" | "started" | "inFlight" | "tasksDone" | "relaunched">): WorkerPhase =>
  w.state === "failed" ? (w.relaunched ? "starting" : "dead")
  : w.state === "gone" ? "released"
  : !w.started ? "starting"
  : w.inFlight.size > 0 ? "busy"
  : w.tasksDone > 0 ? "idle"
  : "ready"

/** A shard's input as the scheduler holds it: a reduce shard's list is built only when handed out (SegmentIndex.Deferred). */
export type HeldInput = ShardInput | SegmentIndex.Deferred

/** A shard to run: its input, and for a stage with a sortedMergeJoin, its right side. */
export interface ShardSpec {
  readonly input: HeldInput
  readonly right?: ShardInput | undefined
}

/** A task as the scheduler hands it out; the Coordinator builds a deferred input before it goes on the wire. */
export type HeldTask = Omit<Task, "input"> & { readonly input: HeldInput }

/** A pull's answer, with tasks as the scheduler holds them (HeldTask). */
export type Pull = Exclude<PullResponse, { readonly kind: "tasks" }> | { readonly kind: "tasks"; readonly tasks: ReadonlyArray<HeldTask> }

export interface ShardEntry {
  readonly index: number
  readonly input: HeldInput
  readonly right: ShardInput | undefined
  attempt: number
  status: "queued" | "running" | "done"
  worker: string | undefined
  failures: number
  infraFailures: number
  /** Times a worker process holding it ran out of memory. */
  oomFailures: number
  lastError: ZephyrWorkerError | undefined
  lastWorker: string | undefined
  /** The worker that last reported a disk error running it: another one gets it first. */
  avoid: string | undefined
  output: ShardOutput | undefined
}

export interface StageRun {
  readonly stage: number
  readonly generation: number
  readonly isLast: boolean
  readonly shards: ReadonlyArray<ShardEntry>
  /** Shard indices waiting for a worker, first come first served. */
  readonly queue: ShardQueue
  completed: number
  retries: number
}

export type Failure = ZephyrWorkerError | ZephyrInfraError | ZephyrFingerprintError

/** What the log of an event is annotated with (besides the execution). */
export interface EventFields {
  readonly stage?: number | undefined
  readonly shard?: number | undefined
  readonly attempt?: number | undefined
  readonly worker?: string | undefined
}

export interface Event {
  readonly level: "debug" | "info" | "warn"
  readonly message: string
  readonly fields?: EventFields | undefined
}

/**
 * Why a shard was handed out again: its user code failed (`user-error`), its worker exited,
 * went silent or re-registered (`worker-lost`), a disk error or an output that could not be
 * published (`infrastructure`), its worker ran out of memory (`out-of-memory`).
 */
export type RetryCause = "user-error" | "worker-lost" | "infrastructure" | "out-of-memory"

export interface Retry {
  readonly stage: number
  readonly shard: number
  /** The attempt that failed. */
  readonly attempt: number
  readonly worker: string
  readonly cause: RetryCause
  readonly message: string
  readonly file?: string | undefined
  readonly line?: number | undefined
  readonly at: number
}

/** Retries of one stage with the same cause, place and message. */
export interface RetryGroup {
  readonly cause: RetryCause
  readonly message: string
  readonly file?: string | undefined
  readonly line?: number | undefined
  count: number
  lastShard: number
  lastWorker: string
}

/** The books of one stage of this execution. */
export interface StageLog {
  readonly stage: number
  readonly shards: number
  state: "running" | "done" | "failed" | "skipped"
  /** Why a stage did not run here (completed by an earlier run, done by the coordinator itself). */
  readonly skipped: string | undefined
  readonly startedAt: number
  endedAt: number | undefined
  readonly io: { recordsIn: number; bytesIn: number; recordsOut: number; bytesOut: number }
  readonly counters: CounterSet.Snapshot
  retries: number
  /** Keyed by cause, place and message; at most MAX_RETRY_GROUPS (the rest counted in `otherRetries`). */
  readonly retryGroups: Map<string, RetryGroup>
  otherRetries: number
  /** Files its writes published, by directory (at most MAX_OUTPUT_DIRS; the rest in `otherOutputFiles`). */
  readonly outputDirs: Map<string, number>
  outputFiles: number
  otherOutputFiles: number
}

export const MAX_RETRY_GROUPS = 50
/** A pull's batch stops growing once its tasks' inputs reach this many bytes (a quarter of Transport.limits.maxResponseBytes). */
export const MAX_BATCH_INPUT_BYTES = 4 << 20
export const MAX_RECENT_RETRIES = 50
export const MAX_OUTPUT_DIRS = 20

const newStageLog = (stage: number, shards: number, now: number, skipped?: string): StageLog => ({
  stage, shards, state: skipped === undefined ? "running" : "skipped", skipped, startedAt: now, endedAt: skipped === undefined ? undefined : now,
  io: { recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0 }, counters: {}, retries: 0, retryGroups: new Map(), otherRetries: 0,
  outputDirs: new Map(), outputFiles: 0, otherOutputFiles: 0
})

/** The process behind a registration: a random id per process (its incarnation), its pid and host. */
export interface WorkerProcess {
  readonly incarnation?: string | undefined
  readonly pid?: number | undefined
  readonly host?: string | undefined
}

/**
 * What a registration under a known worker id is:
 * - `new`: the id is not known;
 * - `reconnected`: the same process again (same incarnation): its connection broke and it dialled back;
 * - `restarted`: a new process after the previous one died, went silent or was let go;
 * - `replaced`: a new process while the previous one still counts as alive (a pod or task
 *   replaced before its predecessor was noticed dead, or two processes started with the same
 *   id): the newer one wins, the older one is fenced off (told to stop, its reports dropped)
 *   and the coordinator warns, naming both;
 * - `refused`: a process that was replaced tries to come back.
 * In every case but `new` and `refused`, what the id held is re-queued with a new attempt, so
 * a late report of the old incarnation is stale and ignored: nothing runs twice into the
 * output, nothing is lost. Only registrations over an authenticated connection get here.
 */
export type Registration = "new" | "reconnected" | "restarted" | "replaced" | "refused"

/** The rule above, as a pure function. A registration without an incarnation (an in-memory worker) is its own reconnect. */
export const registrationOf = (
  existing: Pick<WorkerEntry, "state" | "incarnation" | "retired"> | undefined,
  incarnation: string | undefined
): Registration => {
  if (existing === undefined) return "new"
  const incoming = incarnation ?? ""
  if (incoming === existing.incarnation) return "reconnected"
  if (existing.retired.includes(incoming)) return "refused"
  return existing.state === "alive" ? "replaced" : "restarted"
}

/** How many replaced incarnations a worker id remembers. */
const MAX_RETIRED = 8

export type ReportVerdict = { readonly accept: true } | { readonly accept: false; readonly reason: string }

/** Whether a report counts. Pure: the heart of idempotence. */
export const classifyReport = (executionId: string, run: StageRun | undefined, report: Report, workerId: string): ReportVerdict => {
  if (report.executionId !== executionId) return { accept: false, reason: `unknown execution ${report.executionId}` }
  if (!run || report.stage !== run.stage || report.generation !== run.generation) {
    return { accept: false, reason: `old stage generation (stage ${report.stage} gen ${report.generation}, current ${run ? `stage ${run.stage} gen ${run.generation}` : "none"})` }
  }
  const shard = run.shards[report.shard]
  if (!shard) return { accept: false, reason: `unknown shard ${report.shard}` }
  if (shard.status === "done") return { accept: false, reason: `shard ${report.shard} already finished` }
  if (report.attempt !== shard.attempt) return { accept: false, reason: `stale attempt ${report.attempt} (current ${shard.attempt})` }
  if (shard.worker !== workerId) return { accept: false, reason: `shard ${report.shard} is held by ${shard.worker ?? "nobody"}, not ${workerId}` }
  return { accept: true }
}

/**
 * Whether a worker has been silent too long. Pure. Silence is counted from the later of
 * its last message and the end of the coordinator's last stall (`recoveredAt`): while the
 * coordinator was stalled every worker was waiting on it, and the messages it queued
 * meanwhile have not all been read yet.
 */
export const isExpired = (w: WorkerEntry, now: number, config: Config, recoveredAt = 0): boolean =>
  w.state === "alive" &&
  w.activeRequests === 0 &&
  (w.started || now - w.registeredAt > config.startupGraceMs) &&
  now - Math.max(w.lastSeen, recoveredAt) > config.heartbeatTimeoutMs

/**
 * How many tasks one pull gets: what the worker asked for (it sizes batches by how long its
 * tasks take), at most `cap`, and at most its fair share of the queue among the alive
 * workers, so near the tail no worker sits on queued shards that idle workers could run.
 */
export const batchSize = (asked: number, queued: number, alive: number, cap: number): number =>
  Math.max(0, Math.min(asked, cap, Math.max(1, Math.floor(queued / Math.max(1, alive)))))

/**
 * How long the coordinator holds the pull of a worker that has nothing to do, the
 * `idlePulls`-th time in a row: the long poll (`longPollMs`) doubled each time, up to a cap,
 * times a jitter in [0.75, 1] drawn from the worker's id and the count (so a pool that went
 * idle together does not come back together). A held pull answers at once when work
 * appears, so holding longer costs no latency; it only spares idle pulls. The cap is
 * `idlePollMaxMs`, and at most a quarter of the heartbeat timeout: a held pull keeps its
 * worker from being declared dead (isExpired), so holds must stay short beside it. Pure.
 */
export const idleHoldMs = (idlePulls: number, workerId: string, longPollMs: number, config: Pick<Config, "idlePollMaxMs" | "heartbeatTimeoutMs">): number => {
  const cap = Math.max(longPollMs, Math.min(config.idlePollMaxMs, Math.floor(config.heartbeatTimeoutMs / 4)))
  if (idlePulls <= 0) return Math.min(longPollMs, cap)
  const grown = Math.min(cap, longPollMs * 2 ** Math.min(idlePulls, 30))
  return Math.max(longPollMs, Math.floor(grown * (0.75 + 0.25 * unitHash(workerId, idlePulls))))
}

/** A number in [0, 1) from a string and a count (FNV-1a): deterministic jitter. */
const unitHash = (text: string, n: number): number => {
  let h = 0x811c9dc5 ^ n
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)
  return ((h ^ (h >>> 13)) >>> 0) / 4294967296
}

const percentile = (sorted: ReadonlyArray<number>, p: number): number =>
  sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

export class Scheduler {
  readonly workers = new Map<string, WorkerEntry>()
  run: StageRun | undefined
  generation = 0
  noAliveSince: number | undefined
  counters: CounterSet.Snapshot = {}
  fatal: Failure | undefined
  /** Every stage is done: workers that ask are told to shut down (see `end`). */
  ended = false
  poolGone = false
  /**
   * Bumped whenever what an idle worker's long poll waits for changes: work queued, the
   * queue emptied (idle workers may be released), a failure. Not on every report or
   * hand-out: waking every waiter per event costs O(waiters) per event.
   */
  version = 0
  /** Workers in state "alive", kept as state changes (no scan per pull). */
  private alive = 0
  private lastSweep: number | undefined
  /** When the coordinator last recovered from a stall (a sweep that ran far too late). */
  private recoveredAt = 0
  private events: Array<Event> = []
  /** Per worker, how many times it was declared dead by a heartbeat timeout. */
  readonly timeouts = new Map<string, number>()
  /** Worker processes started but not registered yet, and since when. */
  readonly launching = new Map<string, number>()
  /** The books of every stage started (or skipped) so far, by stage id. */
  readonly stageLogs = new Map<number, StageLog>()
  /** The latest retries of any stage, oldest first (at most MAX_RECENT_RETRIES). */
  readonly recentRetries: Array<Retry> = []
  /** Counters whose conflicting aggregations were reported already (once per counter). */
  private readonly conflictsReported = new Set<string>()
  /** The time of the event being handled: the last `now` a method was given. */
  private clock = 0

  constructor(readonly executionId: string, readonly config: Config) {}

  drainEvents(): Array<Event> {
    const e = this.events
    this.events = []
    return e
  }

  hasEvents(): boolean { return this.events.length > 0 }

  private log(level: Event["level"], message: string, fields?: EventFields) { this.events.push(fields ? { level, message, fields } : { level, message }) }

  /** Records a change of `w`'s phase (and when), logged at debug level. */
  private touch(w: WorkerEntry): void {
    const phase = phaseOf(w)
    if (phase === w.phase) return
    const from = w.phase
    w.phase = phase
    w.phaseSince = this.clock
    const on = phase === "busy" ? ` on shard(s) ${[...w.inFlight].slice(0, 8).join(", ")}${w.inFlight.size > 8 ? ", ..." : ""}` : ""
    this.log("debug", `worker ${w.id}: ${from} → ${phase}${on}`, { worker: w.id, ...(this.run ? { stage: this.run.stage } : {}) })
  }

  private tick(now: number): void { this.clock = now }

  // ---- stages -----------------------------------------------------------------------------

  startStage(stage: number, inputs: ReadonlyArray<ShardSpec>, isLast: boolean, now = this.clock): void {
    this.tick(now)
    this.generation++
    const shards: Array<ShardEntry> = inputs.map((x, index) => ({
      index, input: x.input, right: x.right, attempt: 0, status: "queued", worker: undefined,
      failures: 0, infraFailures: 0, oomFailures: 0, lastError: undefined, lastWorker: undefined, avoid: undefined, output: undefined
    }))
    this.run = { stage, generation: this.generation, isLast, shards, queue: new ShardQueue(shards.map((s) => s.index)), completed: 0, retries: 0 }
    this.version++
    this.stageLogs.set(stage, newStageLog(stage, shards.length, now))
    for (const w of this.workers.values()) { w.inFlight.clear(); this.touch(w) }
    this.log("debug", `stage ${stage} started: ${shards.length} shard(s), generation ${this.generation}`, { stage })
  }

  /**
   * A stage that runs no tasks here: completed by an earlier run of this execution
   * (resumed), or done by the coordinator itself (a reshard only re-deals references).
   */
  skipStage(stage: number, shards: number, why: string, now: number): void {
    this.tick(now)
    this.stageLogs.set(stage, newStageLog(stage, shards, now, why))
  }

  /**
   * The run is complete: every worker's next pull (a held one at once) tells it to shut down,
   * so a worker that was between pulls when the last stage ended learns it before the
   * coordinator closes, instead of finding the connection gone.
   */
  end(now: number): void {
    this.tick(now)
    if (this.ended) return
    this.ended = true
    this.version++
  }

  /** Workers alive and not yet told to shut down. */
  aliveWorkers(): number {
    return this.alive
  }

  /** Done when every shard finished; failed when a rule said so. */
  outcome(): { readonly kind: "running" } | { readonly kind: "done"; readonly outputs: ReadonlyArray<ShardOutput> } | { readonly kind: "failed"; readonly error: Failure } {
    if (this.fatal) return { kind: "failed", error: this.fatal }
    const run = this.run
    if (!run) return { kind: "running" }
    if (run.completed === run.shards.length) return { kind: "done", outputs: run.shards.map((s) => s.output!) }
    return { kind: "running" }
  }

  /** Whether the current stage is over (every shard done) or the execution failed: O(1). */
  settled(): boolean {
    return this.fatal !== undefined || (this.run !== undefined && this.run.completed === this.run.shards.length)
  }

  private outstanding(): number {
    const run = this.run
    return run ? run.shards.length - run.completed : 0
  }

  private fail(error: Failure) {
    if (this.fatal) return
    this.fatal = error
    this.version++
    const log = this.run ? this.stageLogs.get(this.run.stage) : undefined
    if (log && log.state === "running") { log.state = "failed"; log.endedAt = this.clock }
    this.log("warn", `execution failed: ${error.message}`, {
      ...("stage" in error && error.stage !== undefined ? { stage: error.stage } : {}),
      ...("shard" in error && error.shard !== undefined ? { shard: error.shard } : {}),
      ...("worker" in error && typeof error.worker === "string" ? { worker: error.worker } : {})
    })
  }

  // ---- workers ------------------------------------------------------------------------------

  private aliveCount(): number {
    return this.alive
  }

  private setState(w: WorkerEntry, state: WorkerState): void {
    if (w.state === "alive") this.alive--
    if (state === "alive") this.alive++
    w.state = state
    this.touch(w)
  }

  /** The launcher started a worker's process (again, after it died): it is starting until it registers. */
  workerStarting(workerId: string, now: number): void {
    this.tick(now)
    const w = this.workers.get(workerId)
    if (!w) { this.launching.set(workerId, now); return }
    if (w.state !== "failed") return
    w.relaunched = true
    this.touch(w)
  }

  /**
   * A (re-)registering worker is alive; anything it held is re-queued (see `registrationOf`
   * for what a registration under a known id is). A `refused` one changes nothing.
   */
  register(workerId: string, now: number, process: WorkerProcess = {}): { readonly requeued: ReadonlyArray<number>; readonly kind: Registration } {
    this.tick(now)
    const existing = this.workers.get(workerId)
    const kind = registrationOf(existing, process.incarnation)
    if (kind === "refused") {
      this.log("warn", `refused a registration of worker ${workerId} from ${describeProcess(process)}: a newer process has replaced it under that id`, { worker: workerId })
      return { requeued: [], kind }
    }
    this.launching.delete(workerId)
    if (!existing) {
      if (this.workers.size === 0) this.noAliveSince = undefined
      this.workers.set(workerId, {
        id: workerId, state: "alive", lastSeen: now, registeredAt: now, started: false, inFlight: new Set(), activeRequests: 0, idlePulls: 0, tasksDone: 0, deaths: 0,
        relaunched: false, incarnation: process.incarnation ?? "", pid: process.pid, host: process.host, retired: [], phase: "starting", phaseSince: now
      })
      this.alive++
      this.log("debug", `worker ${workerId} registered`, { worker: workerId })
      this.noAliveSince = undefined
      return { requeued: [], kind }
    }
    const previous = describeProcess(existing)
    const why = kind === "reconnected" ? `worker ${workerId} reconnected` : kind === "replaced" ? `worker ${workerId} was replaced by a new process` : `worker ${workerId} re-registered`
    const requeued = this.requeueHeld(existing, why)
    if (kind === "replaced" || kind === "restarted") {
      existing.retired.push(existing.incarnation)
      if (existing.retired.length > MAX_RETIRED) existing.retired.shift()
      existing.incarnation = process.incarnation ?? ""
    }
    existing.pid = process.pid ?? existing.pid
    existing.host = process.host ?? existing.host
    existing.relaunched = false
    existing.idlePulls = 0
    existing.lastSeen = now
    existing.registeredAt = now
    existing.started = false
    this.setState(existing, "alive")
    this.noAliveSince = undefined
    const held = requeued.length ? `; re-queued shard(s) ${requeued.join(", ")}` : ""
    if (kind === "replaced") {
      this.log("warn", `worker ${workerId} registered again from a new process (${describeProcess(existing)}) while its previous process (${previous}) was still alive; the new one takes over, the previous one is told to stop and its reports are ignored${held}`, { worker: workerId })
    } else {
      this.log("info", `${why}${kind === "restarted" ? ` (${describeProcess(existing)})` : ""}${held}`, { worker: workerId })
    }
    return { requeued, kind }
  }

  /** Whether calls from `incarnation` of `workerId` come from a process replaced by a newer one (fenced off). */
  isReplaced(workerId: string, incarnation: string | undefined): boolean {
    if (incarnation === undefined) return false
    const w = this.workers.get(workerId)
    return w !== undefined && w.incarnation !== incarnation && w.retired.includes(incarnation)
  }

  /** Re-queues what `w` held, each as an infrastructure failure (or an out-of-memory one). */
  private requeueHeld(w: WorkerEntry, why: string, outOfMemory = false): Array<number> {
    const run = this.run
    const requeued: Array<number> = []
    if (run) {
      for (const index of w.inFlight) {
        const shard = run.shards[index]
        if (!shard || shard.status !== "running" || shard.worker !== w.id) continue
        if (outOfMemory) this.outOfMemory(shard, w.id, why)
        this.infraFailure(shard, w.id, why, { cause: outOfMemory ? "out-of-memory" : "worker-lost", worker: w.id, message: why })
        requeued.push(index)
      }
    }
    w.inFlight.clear()
    this.touch(w)
    return requeued
  }

  /**
   * A shard lost its worker or hit a disk error: re-queued with a new attempt, and the run
   * fails on the `maxShardInfraFailures`th time.
   */
  private infraFailure(shard: ShardEntry, workerId: string, why: string, retry: RetryReason) {
    const run = this.run!
    shard.infraFailures++
    shard.lastWorker = workerId
    if (shard.infraFailures >= this.config.maxShardInfraFailures) {
      this.fail(new ZephyrInfraError({
        reason: "shard-infra-failures",
        message: `Shard ${shard.index} of stage ${run.stage} crashed, lost its worker or hit a disk error ${shard.infraFailures} times (max ${this.config.maxShardInfraFailures}); last on worker ${workerId}: ${why}.`,
        stage: run.stage, shard: shard.index, retryable: false
      }))
    }
    this.requeue(shard, retry)
  }

  /** A worker process ran out of memory holding `shard`: the `maxShardFailures`th time fails the run. */
  private outOfMemory(shard: ShardEntry, workerId: string, why: string) {
    const run = this.run!
    shard.oomFailures++
    if (shard.oomFailures < this.config.maxShardFailures) return
    this.fail(new ZephyrWorkerError({
      reason: "out-of-memory",
      message: `Shard ${shard.index} of stage ${run.stage} ran out of memory: a worker holding it hit its V8 heap limit ${shard.oomFailures} times (max ${this.config.maxShardFailures}); last on worker ${workerId} (${why}). Give workers more memory (memoryBudget / --memory-budget; a worker's heap is the budget + 128 MB) or make one shard's work smaller (more shards, a combiner, less state per shard).`,
      stage: run.stage, shard: shard.index, worker: workerId
    }))
  }

  private requeue(shard: ShardEntry, reason: RetryReason) {
    const run = this.run!
    this.recordRetry(run.stage, shard, reason)
    shard.attempt++
    shard.status = "queued"
    shard.worker = undefined
    run.retries++
    run.queue.push(shard.index)
    this.version++
  }

  /** Books a retry of `shard` in its stage's log and the recent retries. */
  private recordRetry(stage: number, shard: ShardEntry, reason: RetryReason): void {
    const retry: Retry = { stage, shard: shard.index, attempt: shard.attempt, at: this.clock, ...reason }
    this.recentRetries.push(retry)
    if (this.recentRetries.length > MAX_RECENT_RETRIES) this.recentRetries.shift()
    const log = this.stageLogs.get(stage)
    if (!log) return
    log.retries++
    const key = `${reason.cause}\u0000${reason.file ?? ""}:${reason.line ?? ""}\u0000${groupMessage(reason)}`
    const group = log.retryGroups.get(key)
    if (group) { group.count++; group.lastShard = shard.index; group.lastWorker = reason.worker; return }
    if (log.retryGroups.size >= MAX_RETRY_GROUPS) { log.otherRetries++; return }
    log.retryGroups.set(key, {
      cause: reason.cause, message: groupMessage(reason), ...(reason.file !== undefined ? { file: reason.file } : {}), ...(reason.line !== undefined ? { line: reason.line } : {}),
      count: 1, lastShard: shard.index, lastWorker: reason.worker
    })
  }

  /** Any message from a worker shows it is alive. */
  seen(workerId: string, now: number): WorkerEntry | undefined {
    this.tick(now)
    const w = this.workers.get(workerId)
    if (!w) return undefined
    w.lastSeen = now
    w.started = true
    if (w.state === "failed") {
      // Declared dead too early (a stall, a pause): it is back, idle; what it held was re-queued.
      this.setState(w, "alive")
      this.log("warn", `worker ${workerId} was declared dead but is alive; it rejoins idle`, { worker: workerId })
    }
    if (w.state === "alive") this.noAliveSince = undefined
    this.touch(w)
    return w
  }

  heartbeat(workerId: string, now: number): { readonly known: boolean } {
    return { known: this.seen(workerId, now) !== undefined }
  }

  /**
   * A local process that exited is noticed at once, not after the heartbeat timeout. One
   * that ran out of memory charges what it held with an out-of-memory failure too. With
   * `host` (where the process that exited ran: a pod's name), the death of a process the id
   * no longer runs is ignored: a pod's failure seen after its replacement registered (a
   * launcher polls) is not the replacement's.
   */
  workerExited(workerId: string, now: number, reason: string, outOfMemory = false, host?: string): void {
    this.tick(now)
    const w = this.workers.get(workerId)
    if (w !== undefined && host !== undefined && w.host !== undefined && w.host !== host && w.state === "alive") {
      this.log("debug", `worker ${workerId}: ${reason}, an earlier process of it; it runs on ${w.host} now`, { worker: workerId })
      return
    }
    this.launching.delete(workerId)
    if (!w || w.state === "gone") return
    const requeued = this.requeueHeld(w, reason, outOfMemory)
    w.relaunched = false
    this.setState(w, "failed")
    w.deaths++
    this.log("warn", `worker ${workerId} exited (${reason})${requeued.length ? `; re-queued shard(s) ${requeued.join(", ")}` : ""}`, { worker: workerId, ...(this.run ? { stage: this.run.stage } : {}) })
    this.checkAlive(now)
  }

  /** The launcher says the whole pool is gone for good: no waiting for a timeout. */
  markPoolGone(now: number): void {
    this.tick(now)
    this.poolGone = true
    if (this.outstanding() > 0) {
      this.fail(new ZephyrWorkerError({
        reason: "no-workers",
        message: `The worker pool terminated permanently (every worker exited and used its restarts) with ${this.outstanding()} shard(s) of stage ${this.run?.stage} outstanding; workers likely crashed (out of memory or another fatal error: see their stderr above).`,
        ...(this.run ? { stage: this.run.stage } : {})
      }))
    }
    this.checkAlive(now)
  }

  // ---- the pull -----------------------------------------------------------------------------

  /** Records the worker's reports, then hands it work, a backoff, or shutdown. */
  pull(workerId: string, reports: ReadonlyArray<Report>, max: number, now: number): Pull {
    const w = this.seen(workerId, now)
    if (!w) return { kind: "shutdown", reason: `unknown worker ${workerId}: register first` }
    for (const report of reports) this.record(w, report)
    if (reports.length > 0) { this.touch(w); w.idlePulls = 0 }
    if (w.state === "gone") return { kind: "shutdown", reason: "released" }
    if (this.fatal) return { kind: "shutdown", reason: "the execution failed" }
    if (this.ended) {
      this.setState(w, "gone")
      return { kind: "shutdown", reason: "the run is complete" }
    }
    const run = this.run
    if (!run) return { kind: "backoff", ms: 200 }
    // A worker in the middle of a batch only delivers reports.
    if (max <= 0) return { kind: "backoff", ms: 0 }
    const tasks: Array<HeldTask> = []
    const n = batchSize(max, run.queue.length, this.aliveCount(), this.config.maxTasksPerPull)
    // A shard whose last disk error was on this worker waits for another alive one. A shard
    // held by a worker that ran out of memory runs alone, so the next out-of-memory exit
    // charges it and not the innocent shards of the same batch.
    let passes = run.queue.length
    // Reduce tasks carry their segment lists (M entries each): a batch stays far below a worker's message limit.
    let bytes = 0
    while (tasks.length < n && run.queue.length > 0 && passes-- > 0 && bytes < MAX_BATCH_INPUT_BYTES) {
      const index = run.queue.shift()!
      const shard = run.shards[index]!
      if (shard.status !== "queued") continue
      if ((shard.avoid === workerId && this.aliveCount() > 1) || (shard.oomFailures > 0 && tasks.length > 0)) { run.queue.push(index); continue }
      shard.status = "running"
      shard.worker = workerId
      w.inFlight.add(index)
      bytes += SegmentIndex.inputBytes(shard.input)
      tasks.push({
        executionId: this.executionId, stage: run.stage, generation: run.generation, shard: index,
        totalShards: run.shards.length, attempt: shard.attempt, input: shard.input,
        ...(shard.right ? { right: shard.right } : {})
      })
      if (shard.oomFailures > 0) break
    }
    if (tasks.length > 0) {
      this.touch(w)
      w.idlePulls = 0
      if (run.queue.length === 0) this.version++ // the queue emptied: idle workers may now be released
      return { kind: "tasks", tasks }
    }
    if (run.isLast && this.config.drainIdle && w.inFlight.size === 0 && run.queue.length === 0) {
      this.setState(w, "gone")
      this.log("debug", `worker ${workerId} released: the last stage has nothing left to hand out`, { worker: workerId })
      return { kind: "shutdown", reason: "the last stage has no more work" }
    }
    return { kind: "backoff", ms: w.inFlight.size > 0 ? 50 : 200 }
  }

  /**
   * How long to hold the pull of `workerId`, which got nothing (idleHoldMs); counts the
   * hold when the worker holds no shard (one waiting on its last tasks' stragglers polls
   * at the plain long poll).
   */
  idleHold(workerId: string, longPollMs: number): number {
    const w = this.workers.get(workerId)
    if (!w || w.inFlight.size > 0) return longPollMs
    return idleHoldMs(w.idlePulls++, workerId, longPollMs, this.config)
  }

  /** Whether `report` from `workerId` would count if it were delivered now. */
  accepts(workerId: string, report: Report): boolean {
    return this.fatal === undefined && this.workers.has(workerId) && classifyReport(this.executionId, this.run, report, workerId).accept
  }

  private record(w: WorkerEntry, report: Report) {
    const verdict: ReportVerdict = this.fatal ? { accept: false, reason: "the execution failed" } : classifyReport(this.executionId, this.run, report, w.id)
    const fields: EventFields = { stage: report.stage, shard: report.shard, attempt: report.attempt, worker: w.id }
    if (!verdict.accept) {
      this.log("debug", `ignored a ${report.kind} report from ${w.id} for stage ${report.stage} shard ${report.shard} attempt ${report.attempt}: ${verdict.reason}`, fields)
      return
    }
    const run = this.run!
    const shard = run.shards[report.shard]!
    const log = this.stageLogs.get(run.stage)
    w.inFlight.delete(report.shard)
    if (report.kind === "done") {
      shard.status = "done"
      shard.output = report.output
      shard.worker = undefined
      run.completed++
      w.tasksDone++
      this.mergeCounters(report.counters, fields)
      if (log) {
        CounterSet.merge(log.counters, report.counters)
        if (report.io) {
          log.io.recordsIn += report.io.recordsIn
          log.io.bytesIn += report.io.bytesIn
          log.io.recordsOut += report.io.recordsOut
          log.io.bytesOut += report.io.bytesOut
        }
        if (report.commit) addOutput(log, report.commit.target)
        if (run.completed === run.shards.length && log.state === "running") { log.state = "done"; log.endedAt = this.clock }
      }
      return
    }
    if (report.infrastructure === true) {
      // A disk error (a missing run file, a full disk) or an output that could not be published: not the user's.
      this.log("warn", `shard ${report.shard} of stage ${run.stage} hit an infrastructure failure on ${w.id} (attempt ${report.attempt}): ${report.error.message}`, fields)
      shard.avoid = w.id // its disk may be the problem: another worker first
      this.infraFailure(shard, w.id, report.error.message, { cause: "infrastructure", worker: w.id, ...whereOf(report.error) })
      return
    }
    shard.failures++
    shard.lastError = report.error
    shard.lastWorker = w.id
    if (report.permanent) {
      this.fail(withMessage(report.error, `Stage ${run.stage}, shard ${report.shard}: ${report.error.message}`, { worker: report.error.worker ?? w.id }))
      return
    }
    if (shard.failures >= this.config.maxShardFailures) {
      this.fail(withMessage(report.error, `Shard ${report.shard} of stage ${run.stage} failed ${shard.failures} times (max ${this.config.maxShardFailures}); last failure on worker ${w.id}: ${report.error.message}`, { worker: report.error.worker ?? w.id }))
      return
    }
    this.log("warn", `shard ${report.shard} of stage ${run.stage} failed on ${w.id} (attempt ${report.attempt}, failure ${shard.failures} of ${this.config.maxShardFailures}): ${report.error.message}`, fields)
    this.requeue(shard, { cause: "user-error", worker: w.id, ...whereOf(report.error) })
  }

  /** Folds a task's counters into the run's; a counter given two aggregations is warned about once. */
  private mergeCounters(counters: CounterSet.Snapshot, fields: EventFields): void {
    for (const c of CounterSet.merge(this.counters, counters)) {
      if (this.conflictsReported.has(c.name)) continue
      this.conflictsReported.add(c.name)
      this.log("warn", `counter ${JSON.stringify(c.name)} was given two aggregations: ${JSON.stringify(c.kept)} first, then ${JSON.stringify(c.ignored)} (stage ${fields.stage}, shard ${fields.shard}); it keeps ${JSON.stringify(c.kept)} and ignores the other. Give each aggregation a counter of its own.`, fields)
    }
  }

  /** Fails the execution from outside the rules (a worker that cannot load its module or layer, say). */
  abort(error: Failure): void {
    this.fail(error)
  }

  /** A worker rebuilt another plan: the run fails before it can do harm. */
  fingerprintMismatch(workerId: string, expected: string, actual: string): ZephyrFingerprintError {
    const error = new ZephyrFingerprintError({
      reason: "plan-mismatch",
      message: `Worker ${workerId} rebuilt a different plan (fingerprint ${actual}) than the coordinator (fingerprint ${expected}): the pipeline module must build the same dataset every time (no Math.random() or Date.now() in the builder) and every worker must run the same code.`,
      expected, actual, worker: workerId
    })
    this.fail(error)
    return error
  }

  // ---- time -------------------------------------------------------------------------------

  /**
   * Declares silent workers dead and runs the no-alive-workers timer. A sweep that runs
   * far later than scheduled means the coordinator itself was stalled: heartbeats may be
   * queued unread, so nobody is declared dead on that sweep.
   */
  sweep(now: number): { readonly dead: ReadonlyArray<string>; readonly ages: { readonly p50: number; readonly p90: number; readonly max: number; readonly n: number } } {
    this.tick(now)
    const stalledFor = this.lastSweep === undefined ? 0 : now - this.lastSweep - this.config.sweepIntervalMs
    this.lastSweep = now
    if (stalledFor > this.config.sweepIntervalMs) {
      this.recoveredAt = now
      this.log("warn", `coordinator stalled for ${stalledFor} ms; silence is counted again from now`)
    }
    const ages: Array<number> = []
    const dead: Array<string> = []
    for (const w of this.workers.values()) {
      if (w.state !== "alive") continue
      ages.push(now - w.lastSeen)
      if (isExpired(w, now, this.config, this.recoveredAt)) dead.push(w.id)
    }
    for (const id of dead) {
      const w = this.workers.get(id)!
      const requeued = this.requeueHeld(w, `no heartbeat for ${now - w.lastSeen} ms`)
      this.setState(w, "failed")
      w.deaths++
      this.timeouts.set(id, (this.timeouts.get(id) ?? 0) + 1)
      this.log("warn", `worker ${id} declared dead: last heard from ${now - w.lastSeen} ms ago (timeout ${this.config.heartbeatTimeoutMs} ms)${requeued.length ? `; re-queued shard(s) ${requeued.join(", ")}` : ""}`, { worker: id })
    }
    this.checkAlive(now)
    ages.sort((a, b) => a - b)
    return { dead, ages: { p50: percentile(ages, 0.5), p90: percentile(ages, 0.9), max: ages[ages.length - 1] ?? 0, n: ages.length } }
  }

  private checkAlive(now: number) {
    if (this.aliveCount() > 0 || this.outstanding() === 0) { this.noAliveSince = undefined; return }
    if (this.noAliveSince === undefined) { this.noAliveSince = now; return }
    // Before any worker registered the pool is starting, not dead: only the registration timeout applies.
    if (this.workers.size === 0) {
      if (now - this.noAliveSince >= this.config.registrationTimeoutMs) {
        this.fail(new ZephyrInfraError({
          reason: "registration-timeout",
          message: `No worker registered within ${Math.round(this.config.registrationTimeoutMs / 1000)}s while stage ${this.run?.stage} had ${this.outstanding()} shard(s) outstanding; check that workers can start and reach the coordinator.`,
          ...(this.run ? { stage: this.run.stage } : {}), retryable: true
        }))
      }
      return
    }
    if (now - this.noAliveSince >= this.config.noWorkersTimeoutMs) {
      this.fail(new ZephyrWorkerError({
        reason: "no-workers",
        message: `No alive workers for ${Math.round((now - this.noAliveSince) / 1000)}s (noWorkersTimeout ${Math.round(this.config.noWorkersTimeoutMs / 1000)}s) while stage ${this.run?.stage} had ${this.outstanding()} shard(s) outstanding; every worker exited or stopped answering (see their stderr, or raise heartbeatTimeout for workers that pause).`,
        ...(this.run ? { stage: this.run.stage } : {})
      }))
    }
  }
}

/** Who lost a shard and why (the shard and time are the scheduler's). */
type RetryReason = Pick<Retry, "cause" | "worker" | "message" | "file" | "line">

/** A failure's message, and the user's file and line it names, for the books. */
const whereOf = (error: ZephyrWorkerError): Pick<Retry, "message" | "file" | "line"> => ({
  message: error.message,
  ...(error.file !== undefined ? { file: error.file } : {}),
  ...(error.line !== undefined ? { line: error.line } : {})
})

/** Retries are grouped by the first line of their message, clipped. */
const groupMessage = (reason: RetryReason): string => {
  const first = reason.message.split("\n", 1)[0] ?? ""
  return first.length > 300 ? `${first.slice(0, 300)}...` : first
}

/** A worker's process as a log names it. */
const describeProcess = (p: WorkerProcess): string =>
  p.pid === undefined && p.host === undefined ? "an unnamed process" : `pid ${p.pid ?? "?"} on ${p.host ?? "?"}`

const addOutput = (log: StageLog, target: string): void => {
  log.outputFiles++
  const dir = path.dirname(target)
  const n = log.outputDirs.get(dir)
  if (n !== undefined) log.outputDirs.set(dir, n + 1)
  else if (log.outputDirs.size < MAX_OUTPUT_DIRS) log.outputDirs.set(dir, 1)
  else log.otherOutputFiles++
}
