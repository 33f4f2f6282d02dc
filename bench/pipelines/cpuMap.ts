/**
 * A CPU-bound map: 8 shards, each spinning a hash `rounds` times; the result of each is a
 * checksum, so the work cannot be skipped and two runs can be compared.
 *   zephyr run bench/pipelines/cpuMap.ts --arg rounds=50000000 --print-results
 */
import { Dataset, Pipeline } from "zephyr"

export const spin = (rounds: number) => (shard: number): { readonly shard: number; readonly hash: number } => {
  let h = 0x811c9dc5 ^ shard
  for (let i = 0; i < rounds; i++) h = Math.imul(h ^ i, 0x01000193) ^ (h >>> 13)
  return { shard, hash: h >>> 0 }
}

export default Pipeline.define((args) =>
  Dataset.fromList(Array.from({ length: Pipeline.intArg(args, "shards", 8) }, (_, i) => i)).map(spin(Pipeline.intArg(args, "rounds", 50_000_000))))
