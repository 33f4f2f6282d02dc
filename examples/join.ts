/**
 * Join: total purchase amount per user, joined with the user table. Both sides are grouped
 * by user id into the same number of shards, so shard i of each side holds the same ids,
 * sorted: a sorted merge join needs no further shuffle.
 */
import { Dataset } from "zephyr"

export interface User {
  readonly id: number
  readonly name: string
  readonly country: string
}

export interface Spend {
  readonly id: number
  readonly total: number
}

const shards = 3

const byId = (u: User) => u.id
const firstUser = (_id: number, users: Iterable<User>): User => users[Symbol.iterator]().next().value as User

const byUser = (e: { user: number }) => e.user
const totalSpend = (id: number, events: Iterable<{ amount: number }>): Spend => {
  let total = 0
  for (const e of events) total += e.amount
  return { id, total }
}
// Map-side, each shard sends one partial sum per user to the shuffle instead of every purchase.
const partialSpend = (user: number, events: Iterable<{ user: number; amount: number }>) => [{ user, amount: totalSpend(user, events).total }]

const users = Dataset.readJsonl("examples/data/users/*.jsonl")
  .map((row) => row as User)
  .groupBy(byId, firstUser, { numOutputShards: shards })

export default Dataset.readJsonl("examples/data/events/*.jsonl")
  .filter((e) => e.kind === "buy")
  .map((e) => ({ user: e.user as number, amount: e.amount as number }))
  .groupBy(byUser, totalSpend, { combiner: partialSpend, numOutputShards: shards })
  .sortedMergeJoin(users, { leftKey: (s) => s.id, rightKey: (u) => u.id, how: "left" })
  .map((r) => ({ id: r.id, name: r.name ?? null, country: r.country ?? null, total: r.total }))
