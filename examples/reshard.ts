/**
 * Reshard: the three event files arrive as three uneven shards; rebalance them into four,
 * then keep the purchases of each shard.
 */
import { Dataset } from "zephyr"

export interface Event {
  readonly user: number
  readonly kind: string
  readonly amount: number
}

const isPurchase = (e: Event) => e.kind === "buy"

export default (args: Record<string, string>) =>
  Dataset.readJsonl("examples/data/events/*.jsonl")
    .map((row) => row as Event)
    .reshard(Number(args.shards ?? 4))
    .filter(isPurchase)
    .map((e) => ({ user: e.user, amount: e.amount }))
