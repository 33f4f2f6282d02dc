/**
 * Map -> filter -> write: upper-case the text, count its words, keep scores >= 0.5, one
 * output file per input shard. bench/baselines/node-map-filter-write.mjs does the same.
 *   zephyr run bench/pipelines/mapFilterWrite.ts --arg input='DIR/*.jsonl' --arg out=DIR
 */
import { Dataset, Pipeline } from "zephyr"

interface Input { readonly id: number; readonly user: string; readonly score: number; readonly text: string }

export const enrich = (r: Input) => ({ id: r.id, user: r.user, score: r.score, text: r.text.toUpperCase(), words: r.text.split(" ").length })
export const keep = (r: { readonly score: number }): boolean => r.score >= 0.5

export default Pipeline.define((args) =>
  Dataset.readJsonl(Pipeline.arg(args, "input", "examples/data/events/*.jsonl"))
    .map((r) => enrich(r as Input))
    .filter(keep)
    .writeJsonl(`${Pipeline.arg(args, "out", "out/mapFilterWrite")}/part-{shard:05d}-of-{total}.jsonl`))
