import { Cause, Duration, Effect, Exit, Schedule, type Scope } from "effect"
import * as Ansi from "./Ansi.ts"
import type { Coordinator } from "./coordinator/Coordinator.ts"
import type * as StatusSnapshot from "./coordinator/StatusSnapshot.ts"
import * as HumanUnits from "./HumanUnits.ts"
import * as RunSummary from "./RunSummary.ts"
import * as StderrLogger from "./StderrLogger.ts"

/**
 * What a run shows while it runs, and the summary it ends with, all read from the
 * coordinator's status (StatusSnapshot):
 * - on a terminal (stderr is a TTY that may take cursor moves, see Ansi; text logs), one live line per stage that started: a
 *   bar of its shards done out of the total, in flight and retries, items/s and MB/s from
 *   the built-in counters, an ETA, and the workers (alive, busy, idle, dead); drawn with
 *   log-update (loaded only then), and anything else written to the terminal meanwhile
 *   (logs, workers' stderr) is printed above the lines instead of through them;
 * - otherwise a status line every `intervalMs`, as an info log;
 * - at the end, whatever the outcome, the run's summary (RunSummary), as an info log.
 */

export interface Options {
  /** Show progress (live lines or status lines); the summary does not depend on it. */
  readonly progress: boolean
  /** Between two status lines when stderr is not a terminal. */
  readonly intervalMs: number
}

/** How often live lines are drawn again. */
const REDRAW_MS = 200
const BAR_WIDTH = 16

const stageLabel = (s: StatusSnapshot.Snapshot, stage: StatusSnapshot.Stage): string => `stage ${stage.id + 1}/${s.stages} ${stage.kind}`

const elapsedOf = (stage: StatusSnapshot.Stage): number => stage.elapsedMs ?? 0

/**
 * The status line of the running stage, for logs:
 * `[exec] [stage 1/2 map] C/T complete, I in-flight, Q queued, A/N workers alive, D dead, items=… (…/s), bytes=… (…/s)`.
 */
export const statusLine = (s: StatusSnapshot.Snapshot): string | undefined => {
  const stage = s.stageProgress.find((x) => x.id === s.stage)
  if (stage === undefined) return undefined
  const ms = elapsedOf(stage)
  const w = s.workerCounts
  return `[${s.executionId}] [${stageLabel(s, stage)}] ${stage.shards.done}/${stage.shards.total} complete, ${stage.shards.inFlight} in-flight, ${stage.shards.queued} queued, ` +
    `${w.alive}/${w.total} workers alive, ${w.dead} dead, ` +
    `items=${HumanUnits.count(stage.io.recordsIn)} (${HumanUnits.rate(stage.io.recordsIn, ms)}), bytes=${HumanUnits.bytes(stage.io.bytesIn)} (${HumanUnits.rate(stage.io.bytesIn, ms, HumanUnits.bytes)})`
}

const bar = (done: number, total: number): string => {
  const filled = total === 0 ? BAR_WIDTH : Math.min(BAR_WIDTH, Math.floor((done / total) * BAR_WIDTH))
  return `[${"█".repeat(filled)}${"░".repeat(BAR_WIDTH - filled)}]`
}

/** When the stage should end at the pace of its shards so far; undefined before the first. */
export const eta = (stage: StatusSnapshot.Stage): number | undefined => {
  const { done, total } = stage.shards
  if (done === 0 || done >= total) return undefined
  return (elapsedOf(stage) / done) * (total - done)
}

/** The live line of one stage that started. */
export const stageLine = (s: StatusSnapshot.Snapshot, stage: StatusSnapshot.Stage): string => {
  const label = stageLabel(s, stage)
  const { done, total, inFlight } = stage.shards
  const ms = elapsedOf(stage)
  const io = stage.io
  const retries = `${stage.retries} ${stage.retries === 1 ? "retry" : "retries"}`
  switch (stage.state) {
    case "skipped":
      return `${label} skipped: ${stage.skipped ?? "not run here"}`
    case "done":
      return `${label} ${bar(total, total)} ${total}/${total} shards in ${HumanUnits.duration(ms)}: ${HumanUnits.count(io.recordsIn)} items, ${HumanUnits.bytes(io.bytesIn)} in; ` +
        `${HumanUnits.count(io.recordsOut)} items, ${HumanUnits.bytes(io.bytesOut)} out; ${retries}`
    case "failed":
      return `${label} ${bar(done, total)} ${done}/${total} shards, failed after ${HumanUnits.duration(ms)}; ${retries}`
    default: {
      const w = s.workerCounts
      const left = eta(stage)
      return `${label} ${bar(done, total)} ${done}/${total} shards, ${inFlight} in flight, ${retries}, ` +
        `${HumanUnits.rate(io.recordsIn, ms)} items, ${HumanUnits.rate(io.bytesIn, ms, HumanUnits.bytes)}, ETA ${left === undefined ? "?" : HumanUnits.duration(left)}, ` +
        `workers ${w.alive}/${w.total} alive: ${w.busy} busy, ${w.idle + w.ready} idle, ${w.dead} dead${w.starting > 0 ? `, ${w.starting} starting` : ""}`
    }
  }
}

/** The live lines: one per stage that started (log-update wraps one wider than the terminal). */
export const liveLines = (s: StatusSnapshot.Snapshot): string =>
  s.stageProgress.filter((x) => x.state !== "pending").map((x) => stageLine(s, x)).join("\n")

type Render = ((text: string) => void) & { clear(): void; done(): void }

/** The display in use (one at a time: a second concurrent run falls back to status lines). */
let active: LiveDisplay | undefined

/**
 * Lines drawn in place at the bottom of the terminal. While it is open, writes to stderr
 * (and to stdout when it is the same kind of terminal) erase the lines, go through, and
 * the lines are drawn again below them.
 */
class LiveDisplay {
  private frame = ""
  private writing = false
  private readonly restores: Array<() => void> = []

  constructor(private readonly render: Render) {
    this.hook(process.stderr)
    if (process.stdout.isTTY) this.hook(process.stdout)
  }

  private hook(stream: NodeJS.WriteStream): void {
    const original = stream.write
    const self = this
    stream.write = function (this: NodeJS.WriteStream, ...args: Array<any>): boolean {
      if (self.writing) return (original as (...a: Array<any>) => boolean).apply(stream, args)
      self.writing = true
      try {
        self.render.clear()
        const ok = (original as (...a: Array<any>) => boolean).apply(stream, args)
        if (self.frame !== "") self.render(self.frame)
        return ok
      } finally {
        self.writing = false
      }
    } as typeof stream.write
    this.restores.push(() => { stream.write = original })
  }

  draw(frame: string): void {
    if (frame === this.frame) return
    this.frame = frame
    this.writing = true
    try { this.render(frame) } finally { this.writing = false }
  }

  close(): void {
    this.writing = true
    try {
      if (this.frame !== "") this.render(this.frame)
      this.render.done()
    } finally {
      this.writing = false
      for (const restore of this.restores.splice(0)) restore()
    }
  }
}

const openLive = Effect.tryPromise(() => import("log-update")).pipe(
  Effect.map(({ createLogUpdate }) => {
    // A terminal that does not tell its size (a bare pseudo-terminal) is taken for 80x24.
    const terminal = {
      get columns() { return process.stderr.columns || 80 },
      get rows() { return process.stderr.rows || 24 },
      write: (text: string) => process.stderr.write(text)
    }
    const display = new LiveDisplay(createLogUpdate(terminal as unknown as NodeJS.WriteStream) as Render)
    active = display
    return display
  })
)

const closeLive = (display: LiveDisplay) => Effect.sync(() => {
  display.close()
  if (active === display) active = undefined
})

/**
 * The summary is an info log: its text (a table), and the summary itself as an annotation
 * that JSON logs carry as a field (text logs leave it out).
 */
const printSummary = (summary: RunSummary.RunSummary) =>
  Effect.logInfo(RunSummary.format(summary).trimEnd()).pipe(Effect.annotateLogs({ execution: summary.executionId, summary }))

export interface Tracker {
  /** The summary of the run as it is now, kept to be printed when the run's scope closes. */
  readonly finish: Effect.Effect<RunSummary.RunSummary>
}

/**
 * Shows the progress of the coordinator's execution for as long as the scope lasts, and
 * prints its summary when the scope closes: the one `finish` made, or, when the run fails
 * or is interrupted, one made then.
 */
export const track = (coordinator: Coordinator, options: Options): Effect.Effect<Tracker, never, Scope.Scope> =>
  Effect.gen(function* () {
    let finished: RunSummary.RunSummary | undefined
    // Added first, so it runs last: after the live lines are drawn for the last time.
    yield* Effect.addFinalizer((exit) =>
      Effect.gen(function* () {
        const summary = finished ?? RunSummary.of(
          yield* coordinator.status,
          Exit.isSuccess(exit) ? "succeeded" : Cause.isInterruptedOnly(exit.cause) ? "interrupted" : "failed",
          Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause) ? messageOf(Cause.squash(exit.cause)) : undefined
        )
        yield* printSummary(summary)
      })
    )
    const live = options.progress && Ansi.allowed(process.stderr) && active === undefined && StderrLogger.formatFromEnv() === "text"
    if (live) {
      const display = yield* Effect.acquireRelease(openLive, closeLive).pipe(Effect.option)
      if (display._tag === "Some") {
        const draw = Effect.flatMap(coordinator.status, (s) => Effect.sync(() => display.value.draw(liveLines(s))))
        yield* Effect.forkScoped(draw.pipe(Effect.repeat(Schedule.spaced(Duration.millis(REDRAW_MS)))))
        yield* Effect.addFinalizer(() => draw)
      }
    } else if (options.progress) {
      const line = Effect.flatMap(coordinator.status, (s) => {
        const text = s.done ? undefined : statusLine(s)
        return text === undefined ? Effect.void : Effect.logInfo(text).pipe(Effect.annotateLogs(s.stage === null ? {} : { stage: s.stage }))
      })
      yield* Effect.forkScoped(line.pipe(Effect.repeat(Schedule.spaced(Duration.millis(Math.max(1, options.intervalMs))))))
    }
    return {
      finish: Effect.map(coordinator.status, (s) => {
        finished = RunSummary.of(s, "succeeded")
        return finished
      })
    }
  })

const messageOf = (e: unknown): string =>
  typeof (e as { message?: unknown })?.message === "string" ? (e as { message: string }).message : String(e)
