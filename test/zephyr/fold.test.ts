import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"

const run = async <A>(ds: Dataset<A>) => (await Zephyr.run(ds, { workers: 2 })).results

/** Shards given explicitly: shard i holds `shards[i]`. */
const shards = <A>(list: ReadonlyArray<ReadonlyArray<A>>): Dataset<A> => Dataset.fromList(list.map((s) => [...s])).flatMap((xs) => xs)

const total = (items: Iterable<number>): number => {
  let s = 0
  for (const n of items) s += n
  return s
}

describe("reduce", () => {
  it("folds every shard with local, then the partials with global", async () => {
    const local = (items: Iterable<number>) => {
      let n = 0, s = 0
      for (const x of items) { n++; s += x }
      return { n, s }
    }
    const global = (partials: Iterable<{ n: number; s: number }>) => {
      let n = 0, s = 0
      for (const p of partials) { n += p.n; s += p.s }
      return { n, s }
    }
    const got = await run(shards([[1, 2, 3], [4], [5, 6, 7, 8, 9, 10]]).reduce(local, global))
    expect(got).toEqual([{ n: 10, s: 55 }])
  })

  it("uses local as global when global is not given", async () => {
    expect(await run(Dataset.fromList(Array.from({ length: 100 }, (_, i) => i)).reduce(total))).toEqual([4950])
    // A local that counts its input: as global it counts the partials, one per (non-empty) shard.
    const countIt = (items: Iterable<number>): number => [...items].length
    expect(await run(shards([[1, 1], [1, 1, 1], [1, 1, 1, 1]]).reduce(countIt))).toEqual([3])
  })

  it("gives a one-element result that later ops see as a single shard", async () => {
    const got = await run(Dataset.fromList([1, 2, 3]).reduce(total).mapShard((items, info) => [{ items: [...items], info }]))
    expect(got).toEqual([{ items: [6], info: { shardIdx: 0, totalShards: 1 } }])
  })

  it("gives [] for an empty input", async () => {
    expect(await run(Dataset.fromList<number>([]).reduce(total))).toEqual([])
    expect(await run(Dataset.fromList([1, 2, 3]).filter(() => false).reduce(total, total))).toEqual([])
  })

  it("ignores empty shards", async () => {
    expect(await run(shards([[1], [], [2, 3], []]).reduce(total, total))).toEqual([6])
    expect(await run(shards([[], [7], []]).reduce(total))).toEqual([7])
  })
})

describe("count", () => {
  it("counts the items of all shards", async () => {
    expect(await run(Dataset.fromList(Array.from({ length: 57 }, (_, i) => i)).count())).toEqual([57])
    expect(await run(shards([[1, 2, 3], [], [4, 5]]).flatMap((n) => [n, n]).count())).toEqual([10])
  })

  it("gives [] for an empty input", async () => {
    expect(await run(Dataset.fromList([]).count())).toEqual([])
    expect(await run(Dataset.fromList([1, 2]).filter(() => false).count())).toEqual([])
  })

  it("counts the output of a groupBy", async () => {
    const ds = Dataset.fromList(["a b", "b c", "c d"]).flatMap((l) => l.split(" ")).groupBy((w) => w, (w) => w, { numOutputShards: 3 }).count()
    expect(await run(ds)).toEqual([4])
  })
})
