/**
 * What Slurm says about the tasks of a worker array, and what it means for the run: the
 * slurm backend polls `squeue` (and `sacct` for tasks squeue no longer lists) and turns a
 * task that ended badly into a dead worker, so its shards are re-queued without waiting
 * for the heartbeat timeout. Pure functions, table-tested; the launcher does the I/O.
 */

/** One array task as `squeue`/`sacct` list it. */
export interface TaskState {
  readonly task: number
  /** Slurm's state name, e.g. RUNNING, CANCELLED, NODE_FAIL ("CANCELLED by 1000" is CANCELLED). */
  readonly state: string
}

/**
 * live: pending, running or coming back (requeued); completed: the worker exited 0 (told to
 * shut down); lost: it ended any other way, its worker is dead.
 */
export type Fate = "live" | "completed" | "lost"

/** Slurm's terminal job states other than COMPLETED (squeue(1), JOB STATE CODES). */
const lostStates = new Set([
  "BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "REVOKED", "SPECIAL_EXIT", "TIMEOUT"
])

/**
 * A state's meaning for the worker it runs. Anything not known to be terminal is live
 * (PENDING, RUNNING, COMPLETING, REQUEUED, SUSPENDED, a state a newer Slurm adds): the
 * heartbeat timeout still catches a worker that stopped answering.
 */
export const fateOf = (state: string): Fate => {
  const base = state.trim().split(/\s+/)[0]?.replace(/\+$/, "").toUpperCase() ?? ""
  if (base === "COMPLETED") return "completed"
  return lostStates.has(base) ? "lost" : "live"
}

/** Slurm killed the task for its memory (cgroup limit): the coordinator's out-of-memory rules apply to its shards. */
export const isOutOfMemory = (state: string): boolean => state.toUpperCase().startsWith("OUT_OF_MEMORY")

/** One task per line, finished ones included (while the controller remembers them, MinJobAge). */
export const squeueFormat = "%K|%T"
export const squeueArgs = (jobId: string): Array<string> => [`--jobs=${jobId}`, "--array", "--states=all", "--noheader", `--format=${squeueFormat}`]

/** squeue's answer for a job the controller no longer knows (purged after MinJobAge, or never submitted). */
export const isUnknownJob = (stderr: string): boolean => /invalid job id/i.test(stderr)

/**
 * The tasks of `squeue --array --format=%K|%T` output. Lines that are not `task|STATE` (a
 * pending range a Slurm without `--array` would print as `2-5`) are skipped: an unlisted
 * task is looked up in sacct.
 */
export const parseSqueue = (stdout: string): Array<TaskState> => {
  const out: Array<TaskState> = []
  for (const line of stdout.split("\n")) {
    const m = /^\s*(\d+)\|([A-Za-z_]+)/.exec(line)
    if (m) out.push({ task: Number(m[1]), state: m[2]!.toUpperCase() })
  }
  return out
}

/**
 * The tasks that ran, one per line (`17_3|CANCELLED by 0`); no `--array`, which sacct
 * only has since Slurm 23.02 (it expands pending ranges, which need no lookup here).
 */
export const sacctFormat = "JobID,State"
export const sacctArgs = (jobId: string): Array<string> => [`--jobs=${jobId}`, "--allocations", "--noheader", "--parsable2", `--format=${sacctFormat}`]

/** The tasks of job `jobId` in sacct's `JobID|State` lines (`17_3|CANCELLED by 0`); steps and other jobs are skipped. */
export const parseSacct = (stdout: string, jobId: string): Array<TaskState> => {
  const out: Array<TaskState> = []
  for (const line of stdout.split("\n")) {
    const [id, state] = line.trim().split("|")
    const m = id === undefined ? null : /^(\d+)_(\d+)$/.exec(id)
    if (!m || m[1] !== jobId || !state) continue
    out.push({ task: Number(m[2]), state: state.split(/\s+/)[0]!.toUpperCase() })
  }
  return out
}

/** What the launcher knows of each task: its last state and fate. */
export type Tracked = ReadonlyMap<number, { readonly fate: Fate; readonly state: string }>

export const initial = (tasks: number): Tracked =>
  new Map(Array.from({ length: tasks }, (_, task) => [task, { fate: "live" as Fate, state: "SUBMITTED" }]))

/** Tasks still live in `tracked` that a listing does not mention: ask sacct, then `update` with `unlistedAreLost`. */
export const unlisted = (tracked: Tracked, listed: ReadonlyArray<TaskState>): Array<number> => {
  const seen = new Set(listed.map((t) => t.task))
  return [...tracked].filter(([task, t]) => t.fate === "live" && !seen.has(task)).map(([task]) => task)
}

export interface Update {
  readonly tracked: Tracked
  /** Tasks that became lost with this listing: their workers are dead. */
  readonly lost: ReadonlyArray<TaskState>
  /** Every task completed or lost: no worker of the array will run again. */
  readonly ended: boolean
}

/**
 * Applies a listing. A task seen lost again after coming back (Slurm requeued it) counts
 * as lost again; a completed or lost task listed live again (a requeue) is live. With
 * `unlistedAreLost`, a live task the listing does not mention ended unseen (squeue drops a
 * task cancelled while pending; the controller forgets finished ones after MinJobAge, and
 * sacct has nothing without accounting): its worker is counted dead, state UNKNOWN.
 */
export const update = (tracked: Tracked, listed: ReadonlyArray<TaskState>, unlistedAreLost: boolean): Update => {
  const next = new Map(tracked)
  const lost: Array<TaskState> = []
  const byTask = new Map(listed.map((t) => [t.task, t]))
  for (const [task, before] of tracked) {
    const now = byTask.get(task) ?? (unlistedAreLost && before.fate === "live" ? { task, state: "UNKNOWN" } : undefined)
    if (!now) continue
    const fate = now.state === "UNKNOWN" && !byTask.has(task) ? "lost" : fateOf(now.state)
    if (fate === "lost" && before.fate !== "lost") lost.push({ task, state: now.state })
    next.set(task, { fate, state: now.state })
  }
  return { tracked: next, lost, ended: [...next.values()].every((t) => t.fate !== "live") }
}

/** The line a dead worker is logged with. */
export const describe = (jobId: string, lost: TaskState, log: string | undefined): string =>
  `Slurm array task ${jobId}_${lost.task} ${lost.state === "UNKNOWN" ? "ended (squeue and sacct no longer list it)" : lost.state}${log ? `; its output: ${log}` : ""}`

/**
 * Which lost tasks to requeue: each at most `maxRestarts` times (`used` counts what each has
 * had), and none once the run is over (`running` false). Pure; the launcher runs `scontrol`.
 */
export const toRestart = (lost: ReadonlyArray<TaskState>, used: ReadonlyMap<number, number>, maxRestarts: number, running: boolean): Array<number> =>
  running ? lost.filter((t) => (used.get(t.task) ?? 0) < maxRestarts).map((t) => t.task) : []

/** A requeued task is live again: what the launcher records until squeue lists it. */
export const requeued = (tracked: Tracked, task: number): Tracked => new Map(tracked).set(task, { fate: "live", state: "REQUEUED" })

/**
 * `scontrol requeue` puts an ended task back in the queue (same job and task id, so the
 * same worker id), eligible only after Slurm's credential lifetime (`cred_expire`, 120 s by
 * default); the update that follows lets it start at once (its predecessor is gone).
 */
export const requeueCommands = (jobId: string, task: number): Array<ReadonlyArray<string>> => [
  ["requeue", `${jobId}_${task}`],
  ["update", `JobId=${jobId}_${task}`, "StartTime=now"]
]
