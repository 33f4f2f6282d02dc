/**
 * Word count: read the bundled text files, split lines into words, count each word with a
 * map-side combiner, and write one JSONL file per output shard.
 *
 *   npx zephyr compile examples/wordcount.ts --explain
 *   npx zephyr run examples/wordcount.ts --workers 2 --arg out=out/wordcount
 */
import { Dataset } from "zephyr"

export interface WordCount {
  readonly word: string
  readonly count: number
}

export const splitWords = (line: string): Array<WordCount> =>
  (line.toLowerCase().match(/[a-z0-9']+/g) ?? []).map((word) => ({ word, count: 1 }))

export const byWord = (w: WordCount): string => w.word

export const sumCounts = (word: string, items: Iterable<WordCount>): WordCount => {
  let count = 0
  for (const w of items) count += w.count
  return { word, count }
}

export const partialCounts = (word: string, items: Iterable<WordCount>): Array<WordCount> => [sumCounts(word, items)]

export default (args: Record<string, string>) =>
  Dataset.readText(args.input ?? "examples/data/text/*.txt")
    .flatMap(splitWords)
    .groupBy(byWord, sumCounts, { combiner: partialCounts, numOutputShards: Number(args.shards ?? 4) })
    .writeJsonl(`${args.out ?? "out/wordcount"}/counts-{shard:05d}-of-{total}.jsonl`)
