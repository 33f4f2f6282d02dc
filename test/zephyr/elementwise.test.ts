import * as path from "node:path"
import { Deferred, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { col, Dataset, Zephyr } from "zephyr"
import { jsonl, useTempDirs, writeFile } from "./helpers.ts"

const tmp = useTempDirs()

const run = async <A>(ds: Dataset<A>) => (await Zephyr.run(ds, { workers: 2 })).results

/** One shard holding all of `items` (fromList makes one shard per item). */
const oneShard = <A>(items: ReadonlyArray<A>): Dataset<A> => Dataset.fromList([items]).flatMap((xs) => xs)

/** Shards given explicitly: shard i holds `shards[i]`. */
const shards = <A>(list: ReadonlyArray<ReadonlyArray<A>>): Dataset<A> => Dataset.fromList(list.map((s) => [...s])).flatMap((xs) => xs)

describe("map / filter / flatMap", () => {
  it("map applies the function to every item, keeping order", async () => {
    expect(await run(Dataset.fromList([1, 2, 3, 4]).map((n) => n * 10))).toEqual([10, 20, 30, 40])
    expect(await run(oneShard(["a", "b"]).map((s) => ({ s, len: s.length })))).toEqual([{ s: "a", len: 1 }, { s: "b", len: 1 }])
  })

  it("filter with a function keeps the items it is truthy for", async () => {
    expect(await run(oneShard([0, 1, 2, 3, 4, 5, 6]).filter((n) => n % 3 === 0))).toEqual([0, 3, 6])
    expect(await run(Dataset.fromList(["", "a", "", "b"]).filter((s) => s))).toEqual(["a", "b"])
  })

  it("flatMap flattens arrays, generators and other iterables; an empty iterable drops the item", async () => {
    const ds = oneShard([1, 2, 3, 4]).flatMap(function* (n) {
      for (let i = 0; i < n % 3; i++) yield `${n}.${i}`
    })
    expect(await run(ds)).toEqual(["1.0", "2.0", "2.1", "4.0"])
    expect(await run(Dataset.fromList([1, 2]).flatMap((n) => [n, -n]))).toEqual([1, -1, 2, -2])
    expect(await run(Dataset.fromList(["ab"]).flatMap((s) => new Set([s, s.toUpperCase(), s])))).toEqual(["ab", "AB"])
    expect(await run(Dataset.fromList([1, 2]).flatMap(() => []))).toEqual([])
  })

  it("fuses a chain of element-wise ops into one stage with the same results", async () => {
    const ds = Dataset.fromList([1, 2, 3, 4, 5, 6])
      .map((n) => n + 1)
      .filter((n) => n % 2 === 0)
      .flatMap((n) => [n, n])
      .map((n) => n * 2)
    expect(Zephyr.compile(ds).stages).toHaveLength(1)
    expect(await run(ds)).toEqual([4, 4, 8, 8, 12, 12])
  })
})

describe("col expressions", () => {
  const rows = [
    { id: 1, name: "ann", score: 10, tags: { lang: "en" }, flag: true },
    { id: 2, name: "bob", score: null, tags: { lang: "fr" }, flag: false },
    { id: 3, name: "cy", score: 30, flag: true },
    { id: 4, score: 5, tags: { lang: "en" } },
    { id: 5, name: "eve", score: 25, tags: null }
  ]
  const ids = async (expr: ReturnType<typeof col>) => (await run(oneShard(rows).filter(expr))).map((r) => r.id)

  it("compares columns with literals and other columns", async () => {
    expect(await ids(col("score").gt(10))).toEqual([3, 5])
    expect(await ids(col("score").ge(10))).toEqual([1, 3, 5])
    expect(await ids(col("score").lt(25))).toEqual([1, 4])
    expect(await ids(col("score").le(25))).toEqual([1, 4, 5])
    expect(await ids(col("name").eq("bob"))).toEqual([2])
    expect(await ids(col("flag").eq(true))).toEqual([1, 3])
    expect(await ids(col("score").gt(col("id").mul(6)))).toEqual([1, 3])
  })

  it("treats a missing column as null: comparisons with null are false, isNull is true", async () => {
    // row 4 has no name, row 2 a null score: neither eq nor ne holds for them.
    expect(await ids(col("name").ne("ann"))).toEqual([2, 3, 5])
    expect(await ids(col("score").ne(10))).toEqual([3, 4, 5])
    expect(await ids(col("score").isNull())).toEqual([2])
    expect(await ids(col("name").isNull())).toEqual([4])
    expect(await ids(col("name").isNotNull())).toEqual([1, 2, 3, 5])
    expect(await ids(col("missing").eq(null))).toEqual([])
    expect(await ids(col("missing").isNull())).toEqual([1, 2, 3, 4, 5])
  })

  it("combines with and / or / not and reads nested fields", async () => {
    expect(await ids(col("tags").field("lang").eq("en"))).toEqual([1, 4])
    expect(await ids(col("tags").field("lang").isNull())).toEqual([3, 5])
    expect(await ids(col("score").gt(5).and(col("flag").eq(true)))).toEqual([1, 3])
    expect(await ids(col("id").eq(1).or(col("name").eq("eve")))).toEqual([1, 5])
    expect(await ids(col("id").eq(1).or(col("id").eq(2)).not())).toEqual([3, 4, 5])
  })

  it("does arithmetic: add, sub, mul, div; arithmetic with null is null", async () => {
    expect(await ids(col("score").add(5).eq(15))).toEqual([1])
    expect(await ids(col("score").sub(col("id")).eq(27))).toEqual([3])
    expect(await ids(col("score").div(5).eq(5))).toEqual([5])
    expect(await ids(col("id").mul(2).ge(8))).toEqual([4, 5])
    expect(await ids(col("score").add(1).isNull())).toEqual([2])
  })

  it("gives the same results pushed into the reader as applied after it", async () => {
    const dir = tmp()
    const all = Array.from({ length: 200 }, (_, i) => ({
      id: i, lang: ["en", "fr", "de", null][i % 4], score: i % 7 === 0 ? null : (i * 37) % 101, meta: i % 5 === 0 ? undefined : { q: i % 3 }
    }))
    writeFile(path.join(dir, "a.jsonl"), jsonl(all.slice(0, 120)))
    writeFile(path.join(dir, "b.jsonl"), jsonl(all.slice(120)))
    const predicate = col("lang").eq("en").or(col("score").gt(80)).and(col("meta").field("q").ne(1))
    const pushed = Dataset.readJsonl(`${dir}/*.jsonl`).filter(predicate).select("score", "id", "lang")
    const notPushed = Dataset.readJsonl(`${dir}/*.jsonl`).map((r) => r).filter(predicate).select("score", "id", "lang")
    // The pushdown happened: the filter and select sit in the load's stage, marked as pushed.
    const stage = Zephyr.compile(pushed).stages[0]!
    expect(stage.ops.filter((o) => "pushedInto" in o && o.pushedInto !== undefined).map((o) => o.kind)).toEqual(["filter", "select"])
    expect(Zephyr.compile(notPushed).stages[0]!.ops.some((o) => "pushedInto" in o && o.pushedInto !== undefined)).toBe(false)

    const expected = all
      .filter((r) => (r.lang === "en" || (r.score !== null && r.score > 80)) && r.meta !== undefined && r.meta.q !== 1)
      .map((r) => (r.lang === null ? { score: r.score, id: r.id, lang: null } : { score: r.score, id: r.id, lang: r.lang }))
    const got = await run(pushed)
    expect(got).toEqual(expected)
    expect(got.map((r) => Object.keys(r))[0]).toEqual(["score", "id", "lang"])
    expect(await run(notPushed)).toEqual(expected)
    // And the same as a function filter.
    expect(await run(Dataset.readJsonl(`${dir}/*.jsonl`).filter((r) => predicate.evaluate(r) === true).select("score", "id", "lang"))).toEqual(expected)
  })
})

describe("col expressions pushed into a Parquet reader", () => {
  it("give the same results as the same filter applied after the read, while skipping row groups", async () => {
    const dir = tmp()
    const rows = Array.from({ length: 400 }, (_, i) => ({
      id: i,
      f: i % 9 === 0 ? null : (i * 1.5) % 37,
      s: i % 11 === 0 ? null : `s${(i * 13) % 50}`,
      b: i % 3 === 0,
      meta: { q: i % 4 === 0 ? null : i % 5 },
      g: i < 100 ? null : i % 7
    }))
    await run(shards([rows.slice(0, 250), rows.slice(250)]).writeParquet(`${dir}/p-{shard}.parquet`, { rowGroupSize: 25 }))
    expect(await run(Dataset.readParquet(`${dir}/*.parquet`))).toEqual(rows)
    const predicates = [
      col("id").gt(390), col("id").lt(5), col("id").eq(100), col("id").ne(100), col("f").gt(30), col("f").isNull(),
      col("f").eq(null), col("s").eq("s7"), col("s").gt("s45"), col("s").ne("s7"), col("b").eq(true), col("b").eq(true).not(),
      col("meta").field("q").eq(3), col("meta").field("q").isNull(), col("g").isNull(), col("g").eq(3), col("g").ne(3),
      col("g").isNull().not(), col("nope").isNull(), col("nope").eq(1), col("id").lt(10).or(col("id").gt(395)),
      col("id").add(1).gt(399), col("id").eq("5"), col("id").lt(200).and(col("f").gt(3)).not()
    ]
    let skipped = 0
    for (const p of predicates) {
      const pushed = await Zephyr.run(Dataset.readParquet(`${dir}/*.parquet`).filter(p).select("id", "s"), { workers: 2 })
      const after = await run(Dataset.readParquet(`${dir}/*.parquet`).map((r) => r).filter(p).select("id", "s"))
      const expected = rows.filter((r) => p.evaluate(r) === true).map((r) => ({ id: r.id, s: r.s }))
      expect(pushed.results, p.toString()).toEqual(expected)
      expect(after, p.toString()).toEqual(expected)
      skipped += pushed.counters["zephyr/row_groups_skipped"] ?? 0
    }
    expect(skipped).toBeGreaterThan(0)
  })
})

describe("mapShard", () => {
  it("sees each shard whole, with { shardIdx, totalShards }", async () => {
    const ds = shards([[1, 2], [3], [4, 5, 6]]).mapShard((items, info) => {
      const xs = [...items]
      return [{ info, sum: xs.reduce((a, b) => a + b, 0), n: xs.length }]
    })
    expect(await run(ds)).toEqual([
      { info: { shardIdx: 0, totalShards: 3 }, sum: 3, n: 2 },
      { info: { shardIdx: 1, totalShards: 3 }, sum: 3, n: 1 },
      { info: { shardIdx: 2, totalShards: 3 }, sum: 15, n: 3 }
    ])
  })

  it("is called for empty shards too", async () => {
    const ds = Dataset.fromList([1, 2, 3, 4])
      .filter((n) => n % 2 === 0) // shards 0 and 2 become empty
      .mapShard((items, { shardIdx }) => [`shard ${shardIdx}: ${[...items].join(",")}`])
    expect(await run(ds)).toEqual(["shard 0: ", "shard 1: 2", "shard 2: ", "shard 3: 4"])
  })

  it("may return a generator, flattened in order", async () => {
    const ds = shards([["a", "b"], ["c"]]).mapShard(function* (items, { shardIdx }) {
      for (const x of items) yield `${shardIdx}${x}`
      yield `end${shardIdx}`
    })
    expect(await run(ds)).toEqual(["0a", "0b", "end0", "1c", "end1"])
  })
})

describe("select", () => {
  it("keeps the keys in the order given and omits missing keys", async () => {
    const ds = oneShard([{ a: 1, b: 2, c: 3 }, { c: 30, a: 10 }, { b: null, z: 1 }] as Array<Record<string, unknown>>).select("c", "b", "a")
    const got = await run(ds)
    expect(got).toEqual([{ c: 3, b: 2, a: 1 }, { c: 30, a: 10 }, { b: null }])
    expect(got.map((r) => Object.keys(r))).toEqual([["c", "b", "a"], ["c", "a"], ["b"]])
  })

  it("projects rows read from files the same way", async () => {
    const dir = tmp()
    writeFile(path.join(dir, "a.jsonl"), jsonl([{ x: 1, y: 2, z: 3 }, { y: 5 }]))
    const got = await run(Dataset.readJsonl(`${dir}/a.jsonl`).select("z", "x"))
    expect(got).toEqual([{ z: 3, x: 1 }, {}])
    expect(got.map((r) => Object.keys(r))).toEqual([["z", "x"], []])
  })
})

describe("takePerShard", () => {
  it("keeps the first n items of every shard: k shards give up to k·n items", async () => {
    const ds = shards([[1, 2, 3, 4], [5], [], [6, 7, 8]]).takePerShard(2)
    expect(await run(ds)).toEqual([1, 2, 5, 6, 7])
    expect(await run(shards([[1, 2], [3]]).takePerShard(0))).toEqual([])
    expect(await run(shards([[1, 2], [3]]).takePerShard(10))).toEqual([1, 2, 3])
  })

  it("stops reading a file early and still gives the first rows", async () => {
    const dir = tmp()
    writeFile(path.join(dir, "a.jsonl"), jsonl(Array.from({ length: 10_000 }, (_, i) => ({ i }))))
    writeFile(path.join(dir, "b.jsonl"), jsonl([{ i: -1 }]))
    expect(await run(Dataset.readJsonl(`${dir}/*.jsonl`).takePerShard(3).map((r) => r.i))).toEqual([0, 1, 2, -1])
  })

  it("rejects a negative n at build time", () => {
    expect(() => Dataset.fromList([1]).takePerShard(-1)).toThrow(/zero or more/)
  })
})

describe("operators that expand one input into many items stream their output", () => {
  /** A generator of `n` items that counts what it made and whether its `finally` ran. */
  const counted = (n: number) => {
    const seen = { produced: 0, finalized: 0 }
    function* many(): Generator<number> {
      try {
        for (let i = 0; i < n; i++) { seen.produced++; yield i }
      } finally { seen.finalized++ }
    }
    return { seen, many }
  }
  const MILLIONS = 5_000_000
  /** Well under MILLIONS: a downstream limit pulls at most a couple of output chunks. */
  const PULLED = 10_000

  it("flatMap: takePerShard(3) after a generator of millions stops the generator early and runs its finally", async () => {
    const { seen, many } = counted(MILLIONS)
    expect(await run(Dataset.fromList([0]).flatMap(() => many()).takePerShard(3))).toEqual([0, 1, 2])
    expect(seen.produced).toBeLessThan(PULLED)
    expect(seen.finalized).toBe(1)
  })

  it("groupBy: a reducer's generator is pulled lazily too", async () => {
    const { seen, many } = counted(MILLIONS)
    expect(await run(Dataset.fromList([1]).groupBy((x) => x, () => many()).takePerShard(3))).toEqual([0, 1, 2])
    expect(seen.produced).toBeLessThan(PULLED)
    expect(seen.finalized).toBe(1)
  })

  it("mapShard: a downstream limit returns the user's generator, so its finally runs", async () => {
    const { seen, many } = counted(MILLIONS)
    expect(await run(Dataset.fromList([0]).mapShard(() => many()).takePerShard(3))).toEqual([0, 1, 2])
    expect(seen.produced).toBeLessThan(PULLED)
    expect(seen.finalized).toBe(1)
  })

  it("sortedMergeJoin: a hot key's product is emitted as it is consumed", async () => {
    let combined = 0
    const side = (tag: string) => oneShard(Array.from({ length: 2_000 }, (_, i) => ({ k: 1, tag, i })))
      .groupBy((x) => x.k, function* (_k, items) { yield* items }, { numOutputShards: 1 })
    const joined = side("l").sortedMergeJoin(side("r"), { leftKey: (x) => x.k, rightKey: (x) => x.k, combiner: (l, r) => { combined++; return l.i * 10_000 + r.i } })
    expect(await run(joined.takePerShard(3))).toEqual([0, 1, 2])
    expect(combined).toBeLessThan(PULLED)
  })
})

describe("window", () => {
  it("groups consecutive items of a shard into arrays; the last may be short; windows never span shards", async () => {
    expect(await run(oneShard([1, 2, 3, 4, 5, 6, 7]).window(3))).toEqual([[1, 2, 3], [4, 5, 6], [7]])
    expect(await run(shards([[1, 2, 3], [4, 5]]).window(2))).toEqual([[1, 2], [3], [4, 5]])
    expect(await run(shards([[], [1]]).window(5))).toEqual([[1]])
  })

  it("rejects window(0) at build time", () => {
    expect(() => Dataset.fromList([1]).window(0)).toThrow(/must be positive/)
  })
})

describe("windowBy", () => {
  it("starts a new window when the fold says no, with state fold(initial, item)[1]", async () => {
    // Windows of at most 10 (by sum); an item that alone is too big still gets a window.
    const bySum = (s: number, x: number): readonly [boolean, number] => [s + x <= 10, s + x]
    expect(await run(oneShard([3, 4, 2, 5, 6, 7, 1, 12, 1]).windowBy(bySum, 0))).toEqual([[3, 4, 2], [5], [6], [7, 1], [12], [1]])
  })

  it("uses fold(initial, item)'s state for the new window, not the state of the rejected call", async () => {
    const pairs = (s: { n: number }, _x: number): readonly [boolean, { n: number }] => [s.n < 2, { n: s.n + 1 }]
    expect(await run(oneShard([1, 2, 3, 4, 5]).windowBy(pairs, { n: 0 }))).toEqual([[1, 2], [3, 4], [5]])
  })

  it("calls fold exactly as the rule says", async () => {
    const calls: Array<string> = []
    const fold = (s: string, x: string): readonly [boolean, string] => {
      calls.push(`${s}+${x}`)
      return [x !== "|", s + x]
    }
    expect(await run(oneShard(["a", "b", "|", "c", "|", "|"]).windowBy(fold, ""))).toEqual([["a", "b"], ["|", "c"], ["|"], ["|"]])
    expect(calls).toEqual(["+a", "a+b", "ab+|", "+|", "|+c", "|c+|", "+|", "|+|", "+|"])
  })

  it("works per shard", async () => {
    const always = (s: number): readonly [boolean, number] => [true, s]
    expect(await run(shards([[1, 2], [], [3]]).windowBy(always, 0))).toEqual([[1, 2], [3]])
  })
})

describe("mapEffect", () => {
  it("keeps input order within a shard even when later items finish first", async () => {
    const n = 8
    const finished: Array<number> = []
    const done = Effect.runSync(Effect.all(Array.from({ length: n }, () => Deferred.make<void>())))
    // Item i waits until item i+1 has finished: completion order is n-1, ..., 0.
    const pipeline = oneShard(Array.from({ length: n }, (_, i) => i)).mapEffect((i) =>
      Effect.gen(function* () {
        if (i + 1 < n) yield* Deferred.await(done[i + 1]!)
        finished.push(i)
        yield* Deferred.succeed(done[i]!, undefined)
        return `item ${i}`
      }), { concurrency: n })
    expect(await run(pipeline)).toEqual(Array.from({ length: n }, (_, i) => `item ${i}`))
    expect(finished).toEqual(Array.from({ length: n }, (_, i) => n - 1 - i))
  })

  it("never runs more than `concurrency` effects at once, and one at a time by default", async () => {
    let inFlight = 0
    let max = 0
    const track = (x: number) => Effect.gen(function* () {
      inFlight++
      max = Math.max(max, inFlight)
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      inFlight--
      return x * 2
    })
    const input = Array.from({ length: 40 }, (_, i) => i)
    expect(await run(oneShard(input).mapEffect(track, { concurrency: 3 }))).toEqual(input.map((x) => x * 2))
    expect(max).toBeLessThanOrEqual(3)
    max = 0
    expect(await run(oneShard(input).mapEffect(track))).toEqual(input.map((x) => x * 2))
    expect(max).toBe(1)
  })

  it("keeps order across shards and across many chunks", async () => {
    const input = Array.from({ length: 5000 }, (_, i) => i)
    const ds = shards([input.slice(0, 3000), input.slice(3000)])
      .mapEffect((i) => (i % 2 === 0 ? Effect.succeed(i) : Effect.map(Effect.yieldNow(), () => i)), { concurrency: 16 })
    expect(await run(ds)).toEqual(input)
  })
})
