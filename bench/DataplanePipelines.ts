/**
 * The data-plane benchmark pipelines, written the way a user would (defaults, no
 * numOutputShards). Run with `zephyr run bench/DataplanePipelines.ts --export NAME
 * --arg input=GLOB --arg out=DIR`.
 */
import { Dataset } from "zephyr"

interface Event {
  readonly id: number
  readonly user: string
  readonly kind: string
  readonly amount: number
  readonly url: string
  readonly text: string
}

/**
 * `--arg shards=N` sets numOutputShards; the benchmark leaves it unset (the default, the
 * input shard count) once workers resolve that default as the driver does (issue 8's bug).
 */
const shards = (args: Record<string, string>) => (args.shards ? { numOutputShards: Number(args.shards) } : {})

/** The events, typed as the generator writes them (a user would pass a Schema; decoding costs extra). */
const events = (args: Record<string, string>) => Dataset.readJsonl(args.input!).map((row) => row as unknown as Event)

const out = (args: Record<string, string>, name: string) => `${args.out ?? "out/bench"}/${name}-{shard:05d}-of-{total}.jsonl`

export const mapFilterWrite = (args: Record<string, string>) =>
  events(args)
    .map((e: Event) => ({ id: e.id, user: e.user, amount: e.amount * 2, long: e.text.length > 50 }))
    .filter((e) => e.amount > 60)
    .writeJsonl(out(args, "mfw"))

const countUsers = (user: string, items: Iterable<{ readonly user: string; readonly n: number }>) => {
  let n = 0
  for (const x of items) n += x.n
  return { user, n }
}

export const groupByCount = (args: Record<string, string>) =>
  events(args)
    .map((e: Event) => ({ user: e.user, n: 1 }))
    .groupBy((x) => x.user, countUsers, { combiner: (user, items) => [countUsers(user, items)], ...shards(args) })
    .writeJsonl(out(args, "gbc"))

export const dedup = (args: Record<string, string>) =>
  events(args)
    .deduplicate((e: Event) => e.url, shards(args))
    .writeJsonl(out(args, "dedup"))

/** ~20 µs of arithmetic per row: scaling with workers, not I/O. */
const burn = (e: Event): number => {
  let h = e.id | 0
  for (let i = 0; i < 4000; i++) h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) + i
  return h
}

export const cpuMap = (args: Record<string, string>) =>
  events(args)
    .map((e: Event) => ({ id: e.id, h: burn(e) }))
    .filter((x) => x.h % 7 === 0)
    .writeJsonl(out(args, "cpu"))

/** A groupBy without a combiner: every row crosses the shuffle (the memory benchmark). */
export const groupByAll = (args: Record<string, string>) =>
  events(args)
    .groupBy((e) => e.user, (user, items) => {
      let n = 0, amount = 0
      for (const e of items) { n++; amount += e.amount }
      return { user, n, amount }
    }, shards(args))
    .writeJsonl(out(args, "gba"))

/** One tiny task: the start-up cost of a run (processes, plan, one round trip), subtracted as "net". */
export const noop = (_args: Record<string, string>) => Dataset.fromList([0]).map((x) => x + 1)
