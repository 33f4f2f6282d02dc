import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { sortedJson } from "./helpers.ts"

const run = async <A>(ds: Dataset<A>) => (await Zephyr.run(ds, { workers: 2 })).results

/** Shards given explicitly: shard i holds `shards[i]`. */
const shards = <A>(list: ReadonlyArray<ReadonlyArray<A>>): Dataset<A> => Dataset.fromList(list.map((s) => [...s])).flatMap((xs) => xs)

const layout = async <A>(ds: Dataset<A>) =>
  run(ds.mapShard((items, { shardIdx, totalShards }) => [{ shardIdx, totalShards, items: [...items] }]))

describe("deduplicate", () => {
  it("keeps exactly one item per key, and the item is whole", async () => {
    const docs = Array.from({ length: 300 }, (_, i) => ({ url: `https://x/${i % 40}`, id: i }))
    const got = await run(shards([docs.slice(0, 100), docs.slice(100, 250), docs.slice(250)]).deduplicate((d) => d.url))
    expect(got.map((d) => d.url).sort()).toEqual([...new Set(docs.map((d) => d.url))].sort())
    // Which duplicate survives is unspecified, but it is one of the inputs with that key.
    for (const d of got) expect(docs).toContainEqual(d)
  })

  it("deduplicates plain values", async () => {
    expect((await run(Dataset.fromList(["b", "a", "b", "c", "a", "a"]).deduplicate((s) => s))).sort()).toEqual(["a", "b", "c"])
  })

  it("compares keys by value (arrays, objects, null)", async () => {
    const input = [
      { k: [1, 2], v: "a" }, { k: [1, 2], v: "b" }, { k: [2, 1], v: "c" },
      { k: { a: 1, b: 2 }, v: "d" }, { k: { b: 2, a: 1 }, v: "e" },
      { k: null, v: "f" }, { k: null, v: "g" }, { k: "null", v: "h" }
    ]
    const got = await run(Dataset.fromList(input).deduplicate((r) => r.k as any, { numOutputShards: 2 }))
    expect(sortedJson(got.map((r) => r.k))).toEqual(sortedJson([[1, 2], [2, 1], { a: 1, b: 2 }, null, "null"]))
    expect(got).toHaveLength(5)
  })

  it("produces exactly numOutputShards shards (default: the input shard count)", async () => {
    const ds = Dataset.fromList([1, 1, 2, 3, 3, 3])
    const four = await layout(ds.deduplicate((n) => n, { numOutputShards: 4 }))
    expect(four.map((s) => [s.shardIdx, s.totalShards])).toEqual([[0, 4], [1, 4], [2, 4], [3, 4]])
    expect(four.flatMap((s) => s.items).sort()).toEqual([1, 2, 3])
    const byDefault = await layout(ds.deduplicate((n) => n))
    expect(byDefault).toHaveLength(6)
    expect(byDefault.flatMap((s) => s.items).sort()).toEqual([1, 2, 3])
  })

  it("gives an empty result for an empty input", async () => {
    expect(await run(Dataset.fromList<string>([]).deduplicate((s) => s))).toEqual([])
  })
})
