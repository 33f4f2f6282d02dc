import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { rejection, sortedJson } from "./helpers.ts"

const run = async <A>(ds: Dataset<A>) => (await Zephyr.run(ds, { workers: 2 })).results

interface User { readonly id: number; readonly name: string }
interface Order { readonly user: number; readonly item: string }

const users: Array<User> = [
  { id: 1, name: "ann" }, { id: 2, name: "bob" }, { id: 3, name: "cy" }, { id: 5, name: "eve" }, { id: 8, name: "hal" }
]
const orders: Array<Order> = [
  { user: 2, item: "pen" }, { user: 1, item: "cup" }, { user: 2, item: "ink" }, { user: 4, item: "hat" },
  { user: 5, item: "map" }, { user: 1, item: "mug" }, { user: 9, item: "box" }
]

/** Both sides grouped by the key into the same number of shards: co-partitioned, sorted. */
const byKey = <A>(ds: Dataset<A>, key: (a: A) => number, shards: number): Dataset<A> =>
  ds.groupBy(key, function* (_k, items) { yield* items }, { numOutputShards: shards })

describe("sortedMergeJoin", () => {
  it("inner join: one output per matching pair, default combiner merging the objects", async () => {
    const left = byKey(Dataset.fromList(orders), (o) => o.user, 3)
    const right = byKey(Dataset.fromList(users), (u) => u.id, 3)
    const got = await run(left.sortedMergeJoin(right, { leftKey: (o) => o.user, rightKey: (u) => u.id }))
    expect(sortedJson(got)).toEqual(sortedJson([
      { user: 2, item: "pen", id: 2, name: "bob" }, { user: 2, item: "ink", id: 2, name: "bob" },
      { user: 1, item: "cup", id: 1, name: "ann" }, { user: 1, item: "mug", id: 1, name: "ann" },
      { user: 5, item: "map", id: 5, name: "eve" }
    ]))
  })

  it("left join: a missing right side is null for the combiner, and the default combiner keeps the left", async () => {
    const left = byKey(Dataset.fromList(orders), (o) => o.user, 2)
    const right = byKey(Dataset.fromList(users), (u) => u.id, 2)
    const custom = await run(left.sortedMergeJoin(right, {
      leftKey: (o) => o.user, rightKey: (u) => u.id, how: "left",
      combiner: (o, u) => `${o.item}:${u === null ? "null" : u.name}`
    }))
    expect(custom.sort()).toEqual(["box:null", "cup:ann", "hat:null", "ink:bob", "map:eve", "mug:ann", "pen:bob"])
    const byDefault = await run(left.sortedMergeJoin(right, { leftKey: (o) => o.user, rightKey: (u) => u.id, how: "left" }))
    expect(sortedJson(byDefault)).toEqual(sortedJson([
      { user: 2, item: "pen", id: 2, name: "bob" }, { user: 2, item: "ink", id: 2, name: "bob" },
      { user: 1, item: "cup", id: 1, name: "ann" }, { user: 1, item: "mug", id: 1, name: "ann" },
      { user: 5, item: "map", id: 5, name: "eve" }, { user: 4, item: "hat" }, { user: 9, item: "box" }
    ]))
  })

  it("duplicate keys on both sides give the cartesian product", async () => {
    const left = byKey(Dataset.fromList([{ k: 1, l: "a" }, { k: 1, l: "b" }, { k: 2, l: "c" }]), (x) => x.k, 2)
    const right = byKey(Dataset.fromList([{ k: 1, r: "x" }, { k: 1, r: "y" }, { k: 1, r: "z" }, { k: 3, r: "w" }]), (x) => x.k, 2)
    const got = await run(left.sortedMergeJoin(right, { leftKey: (x) => x.k, rightKey: (x) => x.k, combiner: (l, r) => l.l + r.r }))
    expect(got.sort()).toEqual(["ax", "ay", "az", "bx", "by", "bz"])
    const leftJoin = await run(left.sortedMergeJoin(right, { leftKey: (x) => x.k, rightKey: (x) => x.k, how: "left", combiner: (l, r) => l.l + (r?.r ?? "-") }))
    expect(leftJoin.sort()).toEqual(["ax", "ay", "az", "bx", "by", "bz", "c-"])
  })

  it("matches a nested-loop join on a bigger input", async () => {
    const l = Array.from({ length: 600 }, (_, i) => ({ k: (i * 13) % 97, i }))
    const r = Array.from({ length: 150 }, (_, j) => ({ k: (j * 7) % 120, j }))
    const left = byKey(Dataset.fromList([l.slice(0, 300), l.slice(300)]).flatMap((xs) => xs), (x) => x.k, 4)
    const right = byKey(Dataset.fromList([r]).flatMap((xs) => xs), (x) => x.k, 4)
    const got = await run(left.sortedMergeJoin(right, { leftKey: (x) => x.k, rightKey: (x) => x.k, combiner: (a, b) => [a.i, b.j] as const }))
    const expected = l.flatMap((a) => r.filter((b) => b.k === a.k).map((b) => [a.i, b.j] as const))
    expect(sortedJson(got)).toEqual(sortedJson(expected))
  })

  it("joins on keys compared by value (arrays)", async () => {
    const left = Dataset.fromList([[{ k: ["a", 1], v: 1 }, { k: ["a", 2], v: 2 }, { k: ["b", 0], v: 3 }]]).flatMap((xs) => xs)
    const right = Dataset.fromList([[{ k: ["a", 2], w: "x" }, { k: ["b", 0], w: "y" }]]).flatMap((xs) => xs)
    const got = await run(left.sortedMergeJoin(right, { leftKey: (x) => x.k, rightKey: (x) => x.k, combiner: (a, b) => `${a.v}${b.w}` }))
    expect(got).toEqual(["2x", "3y"])
  })

  it("keeps the left side's order in each shard, shards in order", async () => {
    // Hand-made co-partitioned, sorted sides: shard i of each side is fromList item i.
    const left = Dataset.fromList([[1, 2, 2, 4], [5, 7]]).flatMap((xs) => xs)
    const right = Dataset.fromList([[2, 3, 4], [5, 6, 7, 7]]).flatMap((xs) => xs)
    const got = await run(left.sortedMergeJoin(right, { leftKey: (x) => x, rightKey: (x) => x, how: "left", combiner: (a, b) => `${a}${b ?? "_"}` }))
    expect(got).toEqual(["1_", "22", "22", "44", "55", "77", "77"])
  })

  it("rejects the run (not the build) when the sides have unequal shard counts", async () => {
    const left = byKey(Dataset.fromList(orders), (o) => o.user, 3)
    const right = byKey(Dataset.fromList(users), (u) => u.id, 2)
    const ds = left.sortedMergeJoin(right, { leftKey: (o) => o.user, rightKey: (u) => u.id })
    const err = await rejection(run(ds))
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain("equal shard counts")
  })

  it("plans the right side before the stage that joins, and adds no boundary", () => {
    const left = byKey(Dataset.fromList(orders), (o) => o.user, 3)
    const right = byKey(Dataset.fromList(users), (u) => u.id, 3)
    const plan = Zephyr.compile(left.sortedMergeJoin(right, { leftKey: (o) => o.user, rightKey: (u) => u.id }).map((x) => x))
    // left scatter, right scatter, right reduce, then left reduce + join + map in one stage.
    expect(plan.stages.map((s) => s.kind)).toEqual(["map", "join-right", "join-right", "reduce"])
    expect(plan.stages[3]!.ops.map((o) => o.kind)).toEqual(["groupBy", "sortedMergeJoin", "map"])
  })
})
