/**
 * What a bench workload is: contenders (Zephyr and its baselines) that `bench/run.ts` runs
 * in alternation, round after round, and targets computed from their medians. Each
 * workload module exports `make(context)`; other benches plug in the same way.
 */

export interface Context {
  /** Data size of the data-plane workloads, in MiB. */
  readonly mb: number
  readonly rounds: number
  /**
   * Pass the input shard count as `numOutputShards` to groupBy/dedup pipelines: only for
   * engines where the default fails on worker processes (the fingerprint bug of issue 8).
   */
  readonly explicitShards: boolean
  /** The repository root: commands run there, as a user runs them. */
  readonly repo: string
  /** A scratch folder for outputs, removed when the bench ends. */
  readonly scratch: string
  /** Progress for the reader (stderr). */
  readonly log: (line: string) => void
}

export interface Measurement {
  readonly seconds: number
  /**
   * What the contender computed (counts, checksums), as plain JSON. Every contender of a
   * workload that gives one must give the same; the bench fails loudly otherwise.
   */
  readonly answer?: unknown
  /** Anything else worth reporting (a rate, peak RSS per worker). */
  readonly detail?: Readonly<Record<string, number | string>>
}

export interface Contender {
  readonly name: string
  /** Zephyr's contenders are what the targets judge; the rest are baselines. */
  readonly zephyr: boolean
  /** Why this contender cannot run here (then it is reported and skipped). */
  readonly skipped?: string | undefined
  readonly run: (round: number) => Promise<Measurement>
}

export interface Target {
  /** What is compared, e.g. "Zephyr / DuckDB". */
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly limit: number
  /** true: the value must be ≤ limit; false: ≥ limit. */
  readonly atMost: boolean
}

/** The measurements of each contender, by name, in round order. */
export type Results = ReadonlyMap<string, ReadonlyArray<Measurement>>

export interface Workload {
  readonly name: string
  readonly title: string
  readonly contenders: ReadonlyArray<Contender>
  /** Targets from the results; a target whose inputs were skipped is left out. */
  readonly targets: (results: Results) => ReadonlyArray<Target>
}

export type Make = (context: Context) => Promise<Workload>

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** The median wall time of a contender (NaN when it did not run). */
export const seconds = (results: Results, name: string): number => median((results.get(name) ?? []).map((m) => m.seconds))

/** The median of a numeric detail of a contender. */
export const detail = (results: Results, name: string, key: string): number =>
  median((results.get(name) ?? []).map((m) => Number(m.detail?.[key])).filter((x) => Number.isFinite(x)))

export const passes = (t: Target): boolean => Number.isFinite(t.value) && (t.atMost ? t.value <= t.limit : t.value >= t.limit)

/** Targets whose value could be computed (a skipped contender gives NaN). */
export const measured = (targets: ReadonlyArray<Target>): ReadonlyArray<Target> => targets.filter((t) => Number.isFinite(t.value))
