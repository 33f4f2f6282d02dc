import { Schema } from "effect"

/**
 * Counters recorded by user code and by the runtime. Within a task `set` replaces and
 * `update` folds with the counter's aggregation; across tasks the coordinator merges
 * snapshots with the same aggregation (`sum` unless `update` named another).
 */
export const Aggregation = Schema.Literal("sum", "max", "min", "avg")
export type Aggregation = typeof Aggregation.Type

/** For `avg`, `value` is the running sum and `count` the number of observations. */
export const Entry = Schema.Struct({ agg: Aggregation, value: Schema.Number, count: Schema.Number })
export type Entry = typeof Entry.Type

export const Snapshot = Schema.Record({ key: Schema.String, value: Entry })
export type Snapshot = Record<string, Entry>

export class CounterSet {
  private readonly entries = new Map<string, { agg: Aggregation; value: number; count: number }>()

  increment(name: string, n = 1): void {
    const e = this.entries.get(name)
    if (e) { e.value += n; e.count += 1 } else this.entries.set(name, { agg: "sum", value: n, count: 1 })
  }

  set(name: string, v: number): void {
    const e = this.entries.get(name)
    this.entries.set(name, { agg: e?.agg ?? "sum", value: v, count: 1 })
  }

  update(name: string, v: number, agg: Aggregation = "sum"): void {
    const e = this.entries.get(name)
    if (!e || e.agg !== agg) { this.entries.set(name, { agg, value: v, count: 1 }); return }
    e.value = combine(agg, e.value, v)
    e.count += 1
  }

  snapshot(): Snapshot {
    const out: Snapshot = {}
    for (const [k, e] of this.entries) out[k] = { ...e }
    return out
  }

  get size(): number { return this.entries.size }
}

const combine = (agg: Aggregation, a: number, b: number): number =>
  agg === "max" ? Math.max(a, b) : agg === "min" ? Math.min(a, b) : a + b

/** Folds task snapshots together; a counter whose aggregations disagree keeps the first. */
export const merge = (into: Snapshot, from: Snapshot): Snapshot => {
  for (const [name, e] of Object.entries(from)) {
    const cur = into[name]
    if (!cur) into[name] = { ...e }
    else if (cur.agg === e.agg) into[name] = { agg: e.agg, value: combine(e.agg, cur.value, e.value), count: cur.count + e.count }
  }
  return into
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
