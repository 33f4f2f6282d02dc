import { Schema } from "effect"
import * as StatusSnapshot from "./coordinator/StatusSnapshot.ts"
import * as HumanUnits from "./HumanUnits.ts"

/**
 * What a run did, once it is over: wall time per stage, records and bytes in and out,
 * retries and their causes (with the user's file:line), and where the outputs went. Made
 * from the coordinator's last status (StatusSnapshot), kept in the run's result as data,
 * and printed on stderr at the end of the run.
 */

export const Outcome = Schema.Literal("succeeded", "failed", "interrupted")
export type Outcome = typeof Outcome.Type

export const StageSummary = Schema.Struct({
  id: Schema.Number,
  kind: Schema.String,
  state: StatusSnapshot.StageState,
  /** Why a skipped stage did not run (completed by an earlier run of the execution, say). */
  skipped: Schema.NullOr(Schema.String),
  shards: Schema.Number,
  /** Wall time of the stage, null when it never started. */
  wallMs: Schema.NullOr(Schema.Number),
  recordsIn: Schema.Number,
  bytesIn: Schema.Number,
  recordsOut: Schema.Number,
  bytesOut: Schema.Number,
  retries: Schema.Number,
  retryGroups: Schema.Array(StatusSnapshot.RetryGroup),
  /** The counters of this stage's tasks (user counters and Zephyr's own). */
  counters: Schema.Record({ key: Schema.String, value: Schema.Number })
})
export type StageSummary = typeof StageSummary.Type

export const RunSummary = Schema.Struct({
  executionId: Schema.String,
  outcome: Outcome,
  /** From the first stage's start to the end of the run. */
  wallMs: Schema.Number,
  stages: Schema.Array(StageSummary),
  retries: Schema.Struct({
    total: Schema.Number,
    byCause: Schema.Record({ key: Schema.String, value: Schema.Number })
  }),
  outputs: Schema.Struct({
    /** Files the run's writes published, by directory (the first ones; `otherFiles` counts the rest). */
    files: Schema.Number,
    dirs: Schema.Array(Schema.Struct({ dir: Schema.String, files: Schema.Number })),
    otherFiles: Schema.Number,
    /** Items the last stage handed back to the caller (a run that ends in a write hands back its paths). */
    results: Schema.Number
  }),
  /** What failed the run. */
  failure: Schema.NullOr(Schema.String)
})
export type RunSummary = typeof RunSummary.Type

export const empty = (executionId: string): RunSummary => ({
  executionId, outcome: "succeeded", wallMs: 0, stages: [], retries: { total: 0, byCause: {} },
  outputs: { files: 0, dirs: [], otherFiles: 0, results: 0 }, failure: null
})

/** The summary of the run whose last status is `snapshot`. */
export const of = (snapshot: StatusSnapshot.Snapshot, outcome: Outcome, failure?: string | undefined): RunSummary => {
  const byCause: Record<string, number> = {}
  let total = 0
  const dirs = new Map<string, number>()
  let files = 0
  let otherFiles = 0
  for (const s of snapshot.stageProgress) {
    total += s.retries
    for (const g of s.retryGroups) byCause[g.cause] = (byCause[g.cause] ?? 0) + g.count
    if (s.otherRetries > 0) byCause.other = (byCause.other ?? 0) + s.otherRetries
    files += s.outputs.files
    otherFiles += s.outputs.otherFiles
    for (const d of s.outputs.dirs) dirs.set(d.dir, (dirs.get(d.dir) ?? 0) + d.files)
  }
  const last = snapshot.stageProgress[snapshot.stageProgress.length - 1]
  return {
    executionId: snapshot.executionId,
    outcome,
    wallMs: snapshot.startedAtMs === null ? 0 : snapshot.atMs - snapshot.startedAtMs,
    stages: snapshot.stageProgress.map((s) => ({
      id: s.id, kind: s.kind, state: s.state, skipped: s.skipped, shards: s.shards.total, wallMs: s.elapsedMs,
      recordsIn: s.io.recordsIn, bytesIn: s.io.bytesIn, recordsOut: s.io.recordsOut, bytesOut: s.io.bytesOut,
      retries: s.retries, retryGroups: s.retryGroups, counters: s.counters
    })),
    retries: { total, byCause },
    outputs: { files, dirs: [...dirs].map(([dir, n]) => ({ dir, files: n })), otherFiles, results: last?.io.recordsOut ?? 0 },
    failure: failure ?? snapshot.failure?.message ?? null
  }
}

const table = (rows: ReadonlyArray<ReadonlyArray<string>>, right: ReadonlySet<number>): Array<string> => {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  return rows.map((r) => r.map((cell, c) => (right.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ").trimEnd())
}

const firstLine = (text: string, max = 200): string => {
  const line = text.split("\n", 1)[0] ?? ""
  return line.length > max ? `${line.slice(0, max)}...` : line
}

/** The summary as text (no colour): a header, a table of stages, the retries, the outputs. */
export const format = (summary: RunSummary): string => {
  const n = summary.stages.length
  const head = summary.outcome === "succeeded" ? `succeeded in ${HumanUnits.duration(summary.wallMs)}`
    : summary.outcome === "interrupted" ? `interrupted after ${HumanUnits.duration(summary.wallMs)}`
    : `failed after ${HumanUnits.duration(summary.wallMs)}`
  const lines = [`summary of ${summary.executionId}: ${head}`]
  if (n > 0) {
    const rows = [["stage", "kind", "shards", "time", "records in", "bytes in", "records out", "bytes out", "retries"]]
    for (const s of summary.stages) {
      rows.push([
        `${s.id + 1}/${n}`, s.kind, String(s.shards),
        s.state === "skipped" ? `skipped (${s.skipped ?? "not run"})` : s.state === "pending" ? "not run" : `${HumanUnits.duration(s.wallMs ?? 0)}${s.state === "failed" ? " (failed)" : s.state === "running" ? " (stopped)" : ""}`,
        HumanUnits.count(s.recordsIn), HumanUnits.bytes(s.bytesIn), HumanUnits.count(s.recordsOut), HumanUnits.bytes(s.bytesOut), String(s.retries)
      ])
    }
    lines.push(...table(rows, new Set([2, 4, 5, 6, 7, 8])).map((l) => `  ${l}`))
  }
  if (summary.retries.total === 0) lines.push("  retries: none")
  else {
    const causes = Object.entries(summary.retries.byCause).map(([cause, k]) => `${k} ${cause}`).join(", ")
    lines.push(`  retries: ${summary.retries.total} (${causes})`)
    for (const s of summary.stages) {
      for (const g of s.retryGroups) {
        const where = g.file !== undefined ? ` at ${g.file}${g.line !== undefined ? `:${g.line}` : ""}` : ""
        lines.push(`    stage ${s.id + 1}/${n}: ${g.count}x ${g.cause}${where}: ${firstLine(g.message)}`)
      }
    }
  }
  const o = summary.outputs
  if (o.files > 0) {
    const where = o.dirs.map((d) => `${d.dir} (${d.files})`)
    if (o.otherFiles > 0) where.push(`${o.otherFiles} more elsewhere`)
    lines.push(`  outputs: ${o.files} file(s) in ${where.join(", ")}`)
  } else if (summary.outcome === "succeeded") {
    lines.push(`  outputs: ${o.results} result(s) returned to the caller`)
  }
  if (summary.failure !== null) lines.push(`  failure: ${firstLine(summary.failure, 500)}`)
  return lines.join("\n") + "\n"
}
