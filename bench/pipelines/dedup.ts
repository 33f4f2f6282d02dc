/**
 * Dedup: one record per `doc` (default shard counts).
 *   zephyr run bench/pipelines/dedup.ts --arg input='DIR/*.jsonl' --arg out=DIR
 */
import { Dataset, Pipeline } from "zephyr"
import * as OutputShards from "./OutputShards.ts"

export const byDoc = (r: { readonly doc: string }): string => r.doc

export default Pipeline.define((args) =>
  Dataset.readJsonl(Pipeline.arg(args, "input", "examples/data/events/*.jsonl"))
    .deduplicate((r) => byDoc(r as { doc: string }), OutputShards.fromArgs(args))
    .writeJsonl(`${Pipeline.arg(args, "out", "out/dedup")}/part-{shard:05d}-of-{total}.jsonl`))
