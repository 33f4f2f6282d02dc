import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { readJsonlFile, sortedJson, useTempDirs } from "./helpers.ts"

const tmp = useTempDirs()

const run = async <A>(ds: Dataset<A>, options: Parameters<typeof Zephyr.run>[1] = {}) => (await Zephyr.run(ds, { workers: 2, ...options })).results

/** Shards given explicitly: shard i holds `shards[i]`. */
const shards = <A>(list: ReadonlyArray<ReadonlyArray<A>>): Dataset<A> => Dataset.fromList(list.map((s) => [...s])).flatMap((xs) => xs)

interface WordCount { readonly word: string; readonly count: number }

const text = [
  "the quick brown fox", "jumps over the lazy dog", "the dog barks", "a fox and a dog",
  "over and over", "the end"
]
const words = (line: string): Array<WordCount> => line.split(" ").map((word) => ({ word, count: 1 }))
const expectedCounts = (): Array<WordCount> => {
  const m = new Map<string, number>()
  for (const l of text) for (const w of l.split(" ")) m.set(w, (m.get(w) ?? 0) + 1)
  return sortedJson([...m].map(([word, count]) => ({ word, count })))
}
const sum = (word: string, items: Iterable<WordCount>): WordCount => {
  let count = 0
  for (const w of items) count += w.count
  return { word, count }
}

/** The items of every output shard, with the shard count mapShard saw. */
const layout = async <A>(ds: Dataset<A>) =>
  run(ds.mapShard((items, { shardIdx, totalShards }) => [{ shardIdx, totalShards, items: [...items] }]))

describe("groupBy", () => {
  it("calls the reducer once per key with all of its items (word count)", async () => {
    const ds = Dataset.fromList(text).flatMap(words).groupBy((w) => w.word, sum)
    expect(sortedJson(await run(ds))).toEqual(expectedCounts())
  })

  it("gives the reducer the key and a single-pass iterable of the group's items", async () => {
    const ds = shards([[1, 2, 3, 4], [5, 6, 7, 8, 9]]).groupBy((n) => n % 3, (key, items) => {
      const it = items[Symbol.iterator]()
      const xs: Array<number> = []
      for (let r = it.next(); !r.done; r = it.next()) xs.push(r.value)
      return { key, xs: xs.sort((a, b) => a - b) }
    })
    expect(sortedJson(await run(ds))).toEqual(sortedJson([
      { key: 0, xs: [3, 6, 9] }, { key: 1, xs: [1, 4, 7] }, { key: 2, xs: [2, 5, 8] }
    ]))
  })

  it("treats a returned array as ONE item", async () => {
    const ds = Dataset.fromList(["a", "b", "a"]).groupBy((s) => s, (k, items) => [k, [...items].length])
    expect(sortedJson(await run(ds))).toEqual([["a", 2], ["b", 1]])
  })

  it("flattens a returned generator or iterator", async () => {
    const gen = Dataset.fromList([1, 2, 3, 11, 12]).groupBy((n) => (n > 10 ? "big" : "small"), function* (k, items) {
      for (const n of items) yield `${k}:${n}`
    })
    expect((await run(gen)).sort()).toEqual(["big:11", "big:12", "small:1", "small:2", "small:3"])
    const iter = Dataset.fromList([1, 2, 2]).groupBy((n) => n, (k, items) => [...items].map((n) => n * 10)[Symbol.iterator]())
    expect((await run(iter)).sort((a, b) => a - b)).toEqual([10, 20, 20])
    const none = Dataset.fromList([1, 2]).groupBy((n) => n, function* () { /* nothing */ })
    expect(await run(none)).toEqual([])
  })

  it("orders the items inside a group by sortBy", async () => {
    // Items of each key arrive from several shards in scrambled order.
    const input = Array.from({ length: 60 }, (_, i) => ({ k: ["x", "y", "z"][i % 3]!, t: (i * 37) % 60 }))
    const ds = shards([input.slice(0, 20), input.slice(20, 45), input.slice(45)])
      .groupBy((r) => r.k, (k, items) => ({ k, ts: [...items].map((r) => r.t) }), { sortBy: (r) => r.t })
    const got = await run(ds)
    expect(got.map((g) => g.k).sort()).toEqual(["x", "y", "z"])
    for (const g of got) {
      const expected = input.filter((r) => r.k === g.k).map((r) => r.t).sort((a, b) => a - b)
      expect(g.ts).toEqual(expected)
    }
  })

  it("orders by a composite sortBy key (arrays compare element by element)", async () => {
    const input = [
      { g: 1, a: 2, b: "b" }, { g: 1, a: 1, b: "z" }, { g: 1, a: 2, b: "a" }, { g: 1, a: 10, b: "a" }
    ]
    const ds = Dataset.fromList(input).groupBy((r) => r.g, (_k, items) => [...items].map((r) => `${r.a}${r.b}`), { sortBy: (r) => [r.a, r.b] })
    expect(await run(ds)).toEqual([["1z", "2a", "2b", "10a"]])
  })

  it("gives the same result with a combiner as without", async () => {
    const input = Array.from({ length: 3000 }, (_, i) => ({ word: `w${(i * 7) % 50}`, count: 1 + (i % 3) }))
    const partial = (word: string, items: Iterable<WordCount>) => [sum(word, items)]
    const base = shards([input.slice(0, 1000), input.slice(1000, 2500), input.slice(2500)])
    const without = await run(base.groupBy((w) => w.word, sum, { numOutputShards: 3 }))
    const withCombiner = await run(base.groupBy((w) => w.word, sum, { numOutputShards: 3, combiner: partial }))
    expect(sortedJson(withCombiner)).toEqual(sortedJson(without))
    expect(without.reduce((a, w) => a + w.count, 0)).toBe(input.reduce((a, w) => a + w.count, 0))
    expect(without).toHaveLength(50)
  })

  it("runs the combiner map-side (the reducer sees partials)", async () => {
    let reducerItems = 0
    const ds = shards([Array.from({ length: 100 }, () => ({ word: "a", count: 1 })), Array.from({ length: 100 }, () => ({ word: "a", count: 1 }))])
      .groupBy((w) => w.word, (word, items) => {
        for (const _ of items) reducerItems++
        return sum(word, [])
      }, { combiner: (word, items) => [sum(word, items)] })
    await run(ds)
    // One partial per map shard at most, instead of 200 raw items.
    expect(reducerItems).toBeLessThanOrEqual(2)
    expect(reducerItems).toBeGreaterThan(0)
  })

  it("produces exactly numOutputShards shards, empty ones included", async () => {
    const ds = Dataset.fromList(["a", "b", "c"]).groupBy((s) => s, (k) => k, { numOutputShards: 7 })
    const got = await layout(ds)
    expect(got.map((s) => s.shardIdx)).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(got.every((s) => s.totalShards === 7)).toBe(true)
    expect(got.flatMap((s) => s.items).sort()).toEqual(["a", "b", "c"])
  })

  it("writes exactly numOutputShards files", async () => {
    const dir = tmp()
    const ds = Dataset.fromList(text).flatMap(words).groupBy((w) => w.word, sum, { numOutputShards: 5 })
      .writeJsonl(`${dir}/out/part-{shard}.jsonl`)
    const paths = await run(ds)
    expect(paths).toEqual([0, 1, 2, 3, 4].map((i) => `${dir}/out/part-${i}.jsonl`))
    expect(fs.readdirSync(path.join(dir, "out")).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `part-${i}.jsonl`))
    expect(sortedJson(paths.flatMap(readJsonlFile))).toEqual(expectedCounts())
  })

  it("defaults to the input shard count", async () => {
    const got = await layout(Dataset.fromList([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]).groupBy((n) => n % 2, (k, items) => ({ k, n: [...items].length })))
    expect(got).toHaveLength(11)
    expect(got.every((s) => s.totalShards === 11)).toBe(true)
    expect(sortedJson(got.flatMap((s) => s.items))).toEqual([{ k: 0, n: 5 }, { k: 1, n: 6 }])
    const plan = Zephyr.compile(Dataset.fromList([1, 2, 3]).groupBy((n) => n, (k) => k))
    expect(plan.stages.map((s) => s.shards)).toEqual([{ in: 3, out: 3 }, { in: 3, out: 3 }])
  })

  it("keeps every key in exactly one output shard", async () => {
    const input = Array.from({ length: 500 }, (_, i) => i % 37)
    const got = await layout(shards([input.slice(0, 250), input.slice(250)]).groupBy((n) => n, (k, items) => ({ k, n: [...items].length }), { numOutputShards: 4 }))
    const keys = got.flatMap((s) => s.items.map((g) => g.k))
    expect(keys.sort((a, b) => a - b)).toEqual(Array.from({ length: 37 }, (_, i) => i))
    expect(got.flatMap((s) => s.items).reduce((a, g) => a + g.n, 0)).toBe(500)
  })

  it("compares keys by value: arrays, objects, null; 1 and \"1\" are different keys", async () => {
    const input: Array<{ key: unknown; v: number }> = [
      { key: [1, "a"], v: 1 }, { key: [1, "a"], v: 2 }, { key: [1, "b"], v: 3 },
      { key: { x: 1, y: [2] }, v: 4 }, { key: { y: [2], x: 1 }, v: 5 }, { key: { x: 1 }, v: 6 },
      { key: null, v: 7 }, { key: null, v: 8 },
      { key: 1, v: 9 }, { key: "1", v: 10 }, { key: true, v: 11 }, { key: 1, v: 12 }
    ]
    const ds = Dataset.fromList(input).groupBy((r) => r.key as any, (key, items) => ({ key, vs: [...items].map((r) => r.v).sort((a, b) => a - b) }), { numOutputShards: 3 })
    const got = await run(ds)
    expect(sortedJson(got.map((g) => g.vs))).toEqual(sortedJson([[1, 2], [3], [4, 5], [6], [7, 8], [9, 12], [10], [11]]))
    expect(got.find((g) => g.vs[0] === 7)!.key).toBeNull()
    expect(got.find((g) => g.vs[0] === 1)!.key).toEqual([1, "a"])
    expect(got.find((g) => g.vs[0] === 10)!.key).toBe("1")
  })

  it("gives an empty result for an empty input", async () => {
    expect(await run(Dataset.fromList<number>([]).groupBy((n) => n, (k) => k))).toEqual([])
    expect(await run(Dataset.fromList([1, 2]).filter(() => false).groupBy((n) => n, (k) => k, { numOutputShards: 3 }))).toEqual([])
  })

  it("gives the same result when the shuffle spills to disk under a small memory budget", async () => {
    const input = Array.from({ length: 20_000 }, (_, i) => ({ k: `key-${(i * 7919) % 1000}`, v: i, pad: "x".repeat(40) }))
    const ds = shards([input.slice(0, 10_000), input.slice(10_000)])
      .groupBy((r) => r.k, (k, items) => {
        let n = 0, s = 0
        for (const r of items) { n++; s += r.v }
        return { k, n, s }
      }, { numOutputShards: 3 })
    const small = await Zephyr.run(ds, { workers: 2, memoryBudget: "256KB" })
    const big = await Zephyr.run(ds, { workers: 2 })
    expect(sortedJson(small.results)).toEqual(sortedJson(big.results))
    expect(small.results).toHaveLength(1000)
    expect(small.results.reduce((a, g) => a + g.n, 0)).toBe(20_000)
    // It did spill: more sorted runs than one per map shard.
    expect(small.counters["zephyr/shuffle_runs"]).toBeGreaterThan(big.counters["zephyr/shuffle_runs"]!)
  })

  it("can be chained: a groupBy of a groupBy", async () => {
    const ds = Dataset.fromList(text).flatMap(words).groupBy((w) => w.word, sum)
      .groupBy((w) => w.count, (count, items) => ({ count, words: [...items].map((w) => w.word).sort() }), { numOutputShards: 2 })
    const expected = new Map<number, Array<string>>()
    for (const { word, count } of expectedCounts()) expected.set(count, [...(expected.get(count) ?? []), word].sort())
    expect(sortedJson(await run(ds))).toEqual(sortedJson([...expected].map(([count, words]) => ({ count, words }))))
  })
})
