import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"

const run = async <A>(ds: Dataset<A>) => (await Zephyr.run(ds, { workers: 2 })).results

/** Shards given explicitly: shard i holds `shards[i]`. */
const shards = <A>(list: ReadonlyArray<ReadonlyArray<A>>): Dataset<A> => Dataset.fromList(list.map((s) => [...s])).flatMap((xs) => xs)

/** The items of every shard, in shard order, with the shard count each shard saw. */
const layout = async <A>(ds: Dataset<A>) =>
  run(ds.mapShard((items, { shardIdx, totalShards }) => [{ shardIdx, totalShards, items: [...items] }]))

describe("reshard", () => {
  it("gives exactly n balanced shards, keeping the order of the items", async () => {
    const input = Array.from({ length: 10 }, (_, i) => i)
    const got = await layout(shards([input.slice(0, 7), [], input.slice(7)]).reshard(4))
    expect(got.map((s) => s.shardIdx)).toEqual([0, 1, 2, 3])
    expect(got.every((s) => s.totalShards === 4)).toBe(true)
    const sizes = got.map((s) => s.items.length)
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    expect(got.flatMap((s) => s.items)).toEqual(input)
  })

  it("splits one big shard and merges many small ones", async () => {
    const input = Array.from({ length: 1000 }, (_, i) => i)
    const split = await layout(shards([input]).reshard(3))
    expect(split.map((s) => s.items.length).sort((a, b) => a - b)).toEqual([333, 333, 334])
    expect(split.flatMap((s) => s.items)).toEqual(input)
    const merged = await layout(Dataset.fromList(input.slice(0, 50)).reshard(1))
    expect(merged).toEqual([{ shardIdx: 0, totalShards: 1, items: input.slice(0, 50) }])
  })

  it("gives n shards, some empty, when there are fewer items than shards", async () => {
    const got = await layout(Dataset.fromList(["a", "b"]).reshard(5))
    expect(got).toHaveLength(5)
    expect(got.flatMap((s) => s.items)).toEqual(["a", "b"])
    expect(got.filter((s) => s.items.length === 0)).toHaveLength(3)
    const empty = await layout(Dataset.fromList<number>([]).reshard(3))
    expect(empty.map((s) => s.items)).toEqual([[], [], []])
  })

  it("keeps the results of what follows in shard order", async () => {
    const input = Array.from({ length: 30 }, (_, i) => i)
    expect(await run(Dataset.fromList(input).reshard(4))).toEqual(input)
    expect(await run(Dataset.fromList(input).reshard(4).reshard(7))).toEqual(input)
    expect(await run(Dataset.fromList(input).reshard(4).map((n) => n * 2))).toEqual(input.map((n) => n * 2))
  })

  it("reshard(undefined) is a no-op", async () => {
    const ds = Dataset.fromList([1, 2, 3])
    expect(ds.reshard(undefined)).toBe(ds)
    expect(await layout(ds.reshard(undefined))).toEqual(await layout(ds))
  })

  it("rejects n <= 0 at build time with `must be positive`", () => {
    expect(() => Dataset.fromList([1]).reshard(0)).toThrow(/must be positive/)
    expect(() => Dataset.fromList([1]).reshard(-2)).toThrow(/must be positive/)
  })

  it("is a plan boundary: the next ops see n shards", () => {
    const plan = Zephyr.compile(Dataset.fromList([1, 2, 3]).map((n) => n).reshard(2).map((n) => n + 1))
    expect(plan.stages.map((s) => s.shards.out)).toContain(2)
    expect(plan.stages[plan.stages.length - 1]!.shards).toEqual({ in: 2, out: 2 })
  })
})
