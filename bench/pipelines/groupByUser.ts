/**
 * A groupBy with no combiner, so every record crosses the shuffle: per `user`, the number
 * of records and the sum of their ids. The memory workload runs it over 4x the budget.
 *   zephyr run bench/pipelines/groupByUser.ts --arg input='DIR/*.jsonl' --arg out=DIR --memory-budget 64MB
 */
import { Dataset, Pipeline } from "zephyr"
import * as OutputShards from "./OutputShards.ts"

interface Input { readonly id: number; readonly user: string }

export const byUser = (r: Input): string => r.user
export const summarize = (user: string, items: Iterable<Input>) => {
  let records = 0
  let ids = 0
  for (const r of items) { records++; ids += r.id }
  return { user, records, ids }
}

export default Pipeline.define((args) =>
  Dataset.readJsonl(Pipeline.arg(args, "input", "examples/data/events/*.jsonl"))
    .groupBy((r) => byUser(r as Input), (user, items) => summarize(user, items as Iterable<Input>), OutputShards.fromArgs(args))
    .writeJsonl(`${Pipeline.arg(args, "out", "out/groupByUser")}/part-{shard:05d}-of-{total}.jsonl`))
