/**
 * Word count as examples/wordcount.ts, but with the default shard count (the example
 * sets `numOutputShards`).
 *   zephyr run bench/pipelines/wordcount.ts --arg input='DIR/*.txt' --arg out=DIR
 */
import { Dataset, Pipeline } from "zephyr"
import * as OutputShards from "./OutputShards.ts"
import { byWord, partialCounts, splitWords, sumCounts } from "../../examples/wordcount.ts"

export default Pipeline.define((args) =>
  Dataset.readText(Pipeline.arg(args, "input", "examples/data/text/*.txt"))
    .flatMap(splitWords)
    .groupBy(byWord, sumCounts, { combiner: partialCounts, ...OutputShards.fromArgs(args) })
    .writeJsonl(`${Pipeline.arg(args, "out", "out/wordcount")}/counts-{shard:05d}-of-{total}.jsonl`))
