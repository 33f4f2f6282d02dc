import { Schema } from "effect"

/**
 * Counters recorded by user code and by the runtime. Within a task `set` replaces and
 * `update` folds with the counter's aggregation; across tasks the coordinator merges
 * snapshots with the same aggregation (`sum` unless `update` named another). A counter
 * given two aggregations keeps the first one it was given, within a task and across
 * tasks; the other is a conflict, which the coordinator reports once per counter.
 */
export const Aggregation = Schema.Literal("sum", "max", "min", "avg")
export type Aggregation = typeof Aggregation.Type

/**
 * For `avg`, `value` is the running sum and `count` the number of observations.
 * `conflict`: another aggregation this task asked for and that was not applied.
 */
export const Entry = Schema.Struct({ agg: Aggregation, value: Schema.Number, count: Schema.Number, conflict: Schema.optional(Aggregation) })
export type Entry = typeof Entry.Type

export const Snapshot = Schema.Record({ key: Schema.String, value: Entry })
export type Snapshot = Record<string, Entry>

interface MutableEntry { agg: Aggregation; value: number; count: number; conflict?: Aggregation }

export class CounterSet {
  private readonly entries = new Map<string, MutableEntry>()

  increment(name: string, n = 1): void {
    const e = this.entries.get(name)
    if (!e) { this.entries.set(name, { agg: "sum", value: n, count: 1 }); return }
    if (e.agg !== "sum") { e.conflict ??= "sum"; return }
    e.value += n
    e.count += 1
  }

  set(name: string, v: number): void {
    const e = this.entries.get(name)
    this.entries.set(name, { ...e, agg: e?.agg ?? "sum", value: v, count: 1 })
  }

  update(name: string, v: number, agg: Aggregation = "sum"): void {
    const e = this.entries.get(name)
    if (!e) { this.entries.set(name, { agg, value: v, count: 1 }); return }
    if (e.agg !== agg) { e.conflict ??= agg; return }
    e.value = combine(agg, e.value, v)
    e.count += 1
  }

  snapshot(): Snapshot {
    const out: Snapshot = {}
    for (const [k, e] of this.entries) out[k] = { ...e }
    return out
  }

  /** The current value of a counter (averages divided out), 0 when it was never recorded. */
  value(name: string): number {
    const e = this.entries.get(name)
    return e === undefined ? 0 : e.agg === "avg" ? (e.count === 0 ? 0 : e.value / e.count) : e.value
  }

  get size(): number { return this.entries.size }
}

const combine = (agg: Aggregation, a: number, b: number): number =>
  agg === "max" ? Math.max(a, b) : agg === "min" ? Math.min(a, b) : a + b

/** A counter that was given two aggregations: `kept` is the first, `ignored` the other. */
export interface Conflict {
  readonly name: string
  readonly kept: Aggregation
  readonly ignored: Aggregation
}

/**
 * Folds a task's snapshot into `into`. A counter whose aggregations disagree keeps the
 * first; the disagreements (here, or already within the task) are returned.
 */
export const merge = (into: Snapshot, from: Snapshot): Array<Conflict> => {
  const conflicts: Array<Conflict> = []
  for (const [name, e] of Object.entries(from)) {
    const cur = into[name]
    if (!cur) into[name] = { agg: e.agg, value: e.value, count: e.count }
    else if (cur.agg === e.agg) into[name] = { agg: e.agg, value: combine(e.agg, cur.value, e.value), count: cur.count + e.count }
    else conflicts.push({ name, kept: cur.agg, ignored: e.agg })
    if (e.conflict !== undefined && e.conflict !== (into[name]?.agg)) conflicts.push({ name, kept: into[name]!.agg, ignored: e.conflict })
  }
  return conflicts
}

/** The values a user sees: averages divided out. */
export const values = (s: Snapshot): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const name of Object.keys(s).sort()) {
    const e = s[name]!
    out[name] = e.agg === "avg" ? (e.count === 0 ? 0 : e.value / e.count) : e.value
  }
  return out
}
