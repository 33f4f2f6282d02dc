/**
 * Group-by-count: records per `key`, with a map-side combiner, as a user writes it
 * (default shard counts).
 *   zephyr run bench/pipelines/groupByCount.ts --arg input='DIR/*.jsonl' --arg out=DIR
 */
import { Dataset, Pipeline } from "zephyr"
import * as OutputShards from "./OutputShards.ts"

export interface KeyCount { readonly key: string; readonly count: number }

export const one = (r: { readonly key: string }): KeyCount => ({ key: r.key, count: 1 })
export const byKey = (c: KeyCount): string => c.key
export const sum = (key: string, items: Iterable<KeyCount>): KeyCount => {
  let count = 0
  for (const c of items) count += c.count
  return { key, count }
}
export const partial = (key: string, items: Iterable<KeyCount>): Array<KeyCount> => [sum(key, items)]

export default Pipeline.define((args) =>
  Dataset.readJsonl(Pipeline.arg(args, "input", "examples/data/events/*.jsonl"))
    .map((r) => one(r as { key: string }))
    .groupBy(byKey, sum, { combiner: partial, ...OutputShards.fromArgs(args) })
    .writeJsonl(`${Pipeline.arg(args, "out", "out/groupByCount")}/counts-{shard:05d}-of-{total}.jsonl`))
