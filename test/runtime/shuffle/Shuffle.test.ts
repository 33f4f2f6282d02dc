import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { CounterSet, values } from "../../../runtime/task/CounterSet.ts"
import * as KeyOrder from "../../../runtime/shuffle/KeyOrder.ts"
import { readManifest } from "../../../runtime/shuffle/RunFile.ts"
import { type ScatterOptions, type ScatterOutput, ScatterWriter } from "../../../runtime/shuffle/ScatterWriter.ts"
import { groups, segmentsFor, type ShuffleReadOptions } from "../../../runtime/shuffle/ShuffleReader.ts"

// ---------------------------------------------------------------------------------------
// Fixtures

let root: string
beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-shuffle-")) })
afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

interface Item { readonly k: unknown; readonly id: number; readonly s?: number; readonly c?: number }

type WriterOptions = Partial<Omit<ScatterOptions, "dir">>

let dirSeq = 0
/** Scatters each input (one per mapper) in batches; returns the manifests in mapper order. */
const scatter = (inputs: ReadonlyArray<ReadonlyArray<unknown>>, options: WriterOptions = {}, batch = 100): Array<ScatterOutput> =>
  inputs.map((items) => {
    const w = new ScatterWriter({
      dir: path.join(root, `map-${dirSeq++}`),
      numTargets: 4,
      key: (x) => (x as Item).k,
      sortBy: undefined,
      combiner: undefined,
      memoryBudgetBytes: 64 << 20,
      ...options
    })
    for (let i = 0; i < items.length; i += batch) w.add(items.slice(i, i + batch))
    return w.finish()
  })

/** A combiner that sums `c` (as word count's does), counting its calls in `calls.n`. */
const summingC = (calls: { n: number }) => (key: unknown, items: Iterable<unknown>) => {
  calls.n++
  let c = 0
  for (const x of items) c += (x as Item).c!
  return [{ k: key, id: 0, c }]
}

const readOptions = (extra: Partial<ShuffleReadOptions> = {}): ShuffleReadOptions => ({ tmpDir: path.join(root, "merge"), memoryBudgetBytes: 64 << 20, ...extra })

/** Every target's groups, materialised: `[target, key, items][]`. */
const readAll = (outs: ReadonlyArray<ScatterOutput>, numTargets: number, extra: Partial<ShuffleReadOptions> = {}): Array<[number, unknown, Array<unknown>]> => {
  const manifests = outs.map((o) => o.manifest)
  const out: Array<[number, unknown, Array<unknown>]> = []
  for (let t = 0; t < numTargets; t++) for (const [key, items] of groups(manifests, t, readOptions(extra))) out.push([t, key, [...items]])
  return out
}

/**
 * What the shuffle must produce: per target, the items of all mappers (in mapper then
 * arrival order) stably sorted by (key, sortKey), cut into groups of equal key.
 */
const expected = (inputs: ReadonlyArray<ReadonlyArray<Item>>, numTargets: number, sortBy?: (x: Item) => unknown): Array<[number, unknown, Array<unknown>]> => {
  const all = inputs.flat()
  const norm = (k: unknown) => (k === undefined ? null : k)
  const out: Array<[number, unknown, Array<unknown>]> = []
  for (let t = 0; t < numTargets; t++) {
    const mine = all.filter((x) => KeyOrder.target(norm(x.k), numTargets) === t)
    mine.sort((a, b) => KeyOrder.compare(norm(a.k), norm(b.k)) || (sortBy ? KeyOrder.compare(sortBy(a), sortBy(b)) : 0))
    for (const x of mine) {
      const last = out[out.length - 1]
      if (last && last[0] === t && KeyOrder.compare(last[1], norm(x.k)) === 0) last[2].push(x)
      else out.push([t, norm(x.k), [x]])
    }
  }
  return out
}

const filesUnder = (dir: string): Array<string> =>
  fs.existsSync(dir) ? (fs.readdirSync(dir, { recursive: true }) as Array<string>).filter((f) => fs.statSync(path.join(dir, f)).isFile()) : []

const words = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "honeydew", "kiwi", "lemon", "mango", "nut"]

const randomInputs = (seed: number, mappers: number, perMapper: number, keyOf: (r: () => number) => unknown): Array<Array<Item>> => {
  const r = mulberry32(seed)
  let id = 0
  return Array.from({ length: mappers }, () => Array.from({ length: perMapper }, () => ({ k: keyOf(r), id: id++, s: Math.floor(r() * 10) })))
}

// ---------------------------------------------------------------------------------------

describe("ScatterWriter + groups", () => {
  it("a scatter that takes over the previous scatter's tables (one process, one after the other) sees none of its keys", () => {
    // 3,000 keys grow the tables; the second mapper's writer gets them emptied, at that size.
    const many: Array<Item> = Array.from({ length: 3_000 }, (_, i) => ({ k: `k${i}`, id: i, c: 1 }))
    const few: Array<Item> = [{ k: "k1", id: 0, c: 1 }, { k: "new", id: 1, c: 1 }, { k: "k1", id: 2, c: 1 }]
    const sum = (k: unknown, xs: Iterable<unknown>) => {
      let c = 0
      for (const x of xs) c += (x as Item).c!
      return [{ k, id: -1, c }]
    }
    for (const combiner of [sum, undefined]) {
      const outs = scatter([many, few], { combiner })
      expect(outs[1]!.itemsPerTarget.reduce((a, b) => a + b, 0)).toBe(combiner === undefined ? 3 : 2)
      const got = readAll([outs[1]!], 4).map(([, key, items]) => [key, (items as Array<Item>).reduce((c, x) => c + x.c!, 0)])
      expect(got.sort()).toEqual([["k1", 2], ["new", 1]])
    }
  })

  it("gives exact groups in key order across several mappers and targets", () => {
    const inputs: Array<Array<Item>> = [
      [{ k: "b", id: 0 }, { k: "a", id: 1 }, { k: "c", id: 2 }, { k: "a", id: 3 }],
      [{ k: "a", id: 4 }, { k: "d", id: 5 }],
      [],
      [{ k: "c", id: 6 }, { k: "b", id: 7 }, { k: "e", id: 8 }]
    ]
    const outs = scatter(inputs, { numTargets: 3 })
    const got = readAll(outs, 3)
    expect(got).toEqual(expected(inputs, 3))
    // Every key in exactly one target, the one KeyOrder routes it to; keys ascending per target.
    expect(got.map(([, k]) => k).sort()).toEqual(["a", "b", "c", "d", "e"])
    for (const [t, k] of got) expect(t).toBe(KeyOrder.target(k, 3))
    expect(got.find(([, k]) => k === "a")![2]).toEqual([{ k: "a", id: 1 }, { k: "a", id: 3 }, { k: "a", id: 4 }])
    expect(outs.map((o) => o.itemsPerTarget.reduce((a, b) => a + b, 0))).toEqual([4, 2, 0, 3])
  })

  it("loses and duplicates nothing, over seeded random inputs, budgets and shard counts", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const r = mulberry32(seed * 7)
      const numTargets = 1 + Math.floor(r() * 7)
      const mappers = 1 + Math.floor(r() * 4)
      const distinct = 1 + Math.floor(r() * 60)
      const inputs = randomInputs(seed, mappers, Math.floor(r() * 400), (rr) => (rr() < 0.5 ? `k${Math.floor(rr() * distinct)}` : Math.floor(rr() * distinct)))
      const writeBudget = r() < 0.5 ? 64 << 20 : 2_000 + Math.floor(r() * 20_000)
      const readBudget = r() < 0.5 ? 64 << 20 : 100_000
      const outs = scatter(inputs, { numTargets, memoryBudgetBytes: writeBudget }, 1 + Math.floor(r() * 50))
      const got = readAll(outs, numTargets, { memoryBudgetBytes: readBudget })
      expect(got).toEqual(expected(inputs, numTargets))
      const ids = got.flatMap(([, , items]) => items.map((x) => (x as Item).id)).sort((a, b) => a - b)
      expect(ids).toEqual(inputs.flat().map((x) => x.id).sort((a, b) => a - b))
      // itemsPerTarget adds up to what each target reads.
      for (let t = 0; t < numTargets; t++) {
        expect(outs.reduce((n, o) => n + o.itemsPerTarget[t]!, 0)).toBe(got.filter(([tt]) => tt === t).reduce((n, [, , items]) => n + items.length, 0))
      }
    }
  })

  it("orders items inside a group by sortBy (ties in mapper then arrival order)", () => {
    const inputs = randomInputs(3, 3, 300, (r) => words[Math.floor(r() * 5)])
    const sortBy = (x: unknown) => (x as Item).s
    for (const budget of [64 << 20, 3_000]) {
      const outs = scatter(inputs, { numTargets: 2, sortBy, memoryBudgetBytes: budget })
      const got = readAll(outs, 2, { memoryBudgetBytes: 100_000 })
      expect(got).toEqual(expected(inputs, 2, (x) => x.s))
      for (const [, , items] of got) {
        const s = items.map((x) => (x as Item).s!)
        expect(s).toEqual([...s].sort((a, b) => a - b))
      }
    }
  })

  it("applies the combiner map-side: fewer items written, the same reduce result", () => {
    const inputs = randomInputs(5, 3, 2_000, (r) => words[Math.floor(r() * words.length)]).map((xs) => xs.map((x) => ({ k: x.k, id: 0, c: 1 })))
    const calls = { n: 0 }
    const combiner = summingC(calls)
    const count = (outs: ReadonlyArray<ScatterOutput>) => {
      const totals = new Map<unknown, number>()
      for (const [, key, items] of readAll(outs, 4)) totals.set(key, items.reduce((n: number, x) => n + (x as Item).c!, 0))
      return [...totals].sort((a, b) => KeyOrder.compare(a[0], b[0]))
    }
    const plain = new CounterSet(), combined = new CounterSet(), small = new CounterSet()
    const without = scatter(inputs, { counters: plain })
    const withC = scatter(inputs, { combiner, counters: combined })
    expect(calls.n).toBeGreaterThan(0)
    const withCSmall = scatter(inputs, { combiner, counters: small, memoryBudgetBytes: 5_000 })
    expect(values(plain.snapshot())["zephyr/shuffle_items_out"]).toBe(6_000)
    // One item per word per mapper with a big budget.
    expect(values(combined.snapshot())["zephyr/shuffle_items_out"]).toBe(3 * words.length)
    expect(values(small.snapshot())["zephyr/shuffle_items_out"]).toBeLessThan(6_000)
    expect(values(combined.snapshot())["zephyr/shuffle_bytes_written"]).toBeLessThan(values(plain.snapshot())["zephyr/shuffle_bytes_written"]!)
    const reference = count(without)
    expect(reference.reduce((n, [, c]) => n + c, 0)).toBe(6_000)
    expect(count(withC)).toEqual(reference)
    expect(count(withCSmall)).toEqual(reference)
  })

  it("without sortBy, each arrival meets its key's partial: two items per combiner call, one buffered item per key; a lone item meets it at the flush", () => {
    const inputs = randomInputs(3, 2, 3_000, (r) => `w${Math.floor(r() ** 3 * 500)}`).map((xs) => xs.map((x) => ({ k: x.k, id: 0, c: 1 })))
    const sizes: Array<number> = []
    const combiner = (key: unknown, items: Iterable<unknown>) => {
      let c = 0, n = 0
      for (const x of items) { c += (x as Item).c!; n++ }
      sizes.push(n)
      return [{ k: key, id: 0, c }]
    }
    const counters = new CounterSet()
    const outs = scatter(inputs, { combiner, counters }, 256)
    const distinct = inputs.reduce((n, xs) => n + new Set(xs.map((x) => x.k)).size, 0)
    const lone = inputs.reduce((n, xs) => {
      const seen = new Map<unknown, number>()
      for (const x of xs) seen.set(x.k, (seen.get(x.k) ?? 0) + 1)
      return n + [...seen.values()].filter((c) => c === 1).length
    }, 0)
    expect(lone).toBeGreaterThan(0)
    expect(sizes.filter((n) => n === 2)).toHaveLength(6_000 - distinct)
    expect(sizes.filter((n) => n === 1)).toHaveLength(lone)
    expect(sizes).toHaveLength(6_000 - distinct + lone)
    expect(values(counters.snapshot())["zephyr/shuffle_items_out"]).toBe(distinct)
    const totals = new Map<unknown, number>()
    for (const [, key, items] of readAll(outs, 4)) totals.set(key, (totals.get(key) ?? 0) + items.reduce((n: number, x) => n + (x as Item).c!, 0))
    const want = new Map<unknown, number>()
    for (const xs of inputs) for (const x of xs) want.set(x.k, (want.get(x.k) ?? 0) + 1)
    expect(totals).toEqual(want)
  })

  it("with sums (a combiner that only sums c), adds c in place and calls the combiner once per key and flush: the same runs as calling it per item, at any budget", () => {
    const inputs = randomInputs(3, 2, 3_000, (r) => `w${Math.floor(r() ** 3 * 500)}`).map((xs, m) => xs.map((x, i) => ({ k: x.k, id: 0, c: (i % 7) * 0.1 + m })))
    const calls = { n: 0 }
    const combiner = summingC(calls)
    for (const budget of [64 << 20, 4_000]) {
      calls.n = 0
      const perItem = readAll(scatter(inputs, { combiner, memoryBudgetBytes: budget }, 256), 4)
      const perItemCalls = calls.n
      calls.n = 0
      const counters = new CounterSet()
      const outs = scatter(inputs, { combiner, sums: ["c"], memoryBudgetBytes: budget, counters }, 256)
      // Every partial is exactly the combiner's: the same floating-point sums, in the same order.
      expect(readAll(outs, 4)).toEqual(perItem)
      // A tiny budget flushes every few items, each flush calling the combiner for each key.
      expect(calls.n).toBeLessThanOrEqual(perItemCalls)
      if (budget === 64 << 20) {
        expect(calls.n).toBeLessThan(perItemCalls / 4)
        const distinct = inputs.reduce((n, xs) => n + new Set(xs.map((x) => x.k)).size, 0)
        expect(calls.n).toBe(distinct)
        expect(values(counters.snapshot())["zephyr/shuffle_items_out"]).toBe(distinct)
      }
    }
  })

  it("with sums, a key whose field is not a number goes back to its combiner from there on, with the combiner's result", () => {
    const combiner = (key: unknown, items: Iterable<unknown>) => {
      let c: unknown = 0
      for (const x of items) c = (c as number) + ((x as Item).c as number)
      return [{ k: key, id: 0, c }]
    }
    const odd = { k: "a", id: 0, c: "7" as unknown as number }
    const input = [{ k: "a", id: 0, c: 1 }, { k: "a", id: 0, c: 2 }, odd, { k: "a", id: 0, c: 4 }, { k: "b", id: 0, c: 5 }, { k: "b", id: 0, c: 6 }]
    const perItem = readAll(scatter([input], { combiner }, 1), 4)
    const withSums = readAll(scatter([input], { combiner, sums: ["c"] }, 1), 4)
    expect(withSums).toEqual(perItem)
    expect(withSums.find(([, key]) => key === "a")![2]).toEqual([{ k: "a", id: 0, c: "0374" }])
    expect(withSums.find(([, key]) => key === "b")![2]).toEqual([{ k: "b", id: 0, c: 11 }])
  })

  it("a combiner that returns no item or several for a key keeps a list for it, with the same result at any budget", () => {
    // Keeps the two largest ids of a key; drops key "w0" altogether.
    const top2 = (key: unknown, items: Iterable<unknown>) =>
      key === "w0" ? [] : [...items].sort((a, b) => (b as Item).id - (a as Item).id).slice(0, 2)
    const inputs = randomInputs(5, 3, 800, (r) => `w${Math.floor(r() * 30)}`)
    const want = new Map<unknown, Array<number>>()
    for (const xs of inputs) for (const x of xs) if (x.k !== "w0") want.set(x.k, [...(want.get(x.k) ?? []), x.id].sort((a, b) => b - a).slice(0, 2))
    for (const budget of [64 << 20, 3_000]) {
      const got = new Map<unknown, Array<number>>()
      for (const [, key, items] of readAll(scatter(inputs, { combiner: top2, memoryBudgetBytes: budget }, 50), 4)) {
        got.set(key, (top2(key, items) as Array<Item>).map((x) => x.id))
      }
      got.delete("w0")
      expect(got).toEqual(want)
    }
  })

  it("an identity combiner changes nothing, with or without sortBy, at any budget", () => {
    const inputs = randomInputs(8, 3, 600, (r) => (r() < 0.8 ? `w${Math.floor(r() * 40)}` : [Math.floor(r() * 3)]))
    const identity = (_key: unknown, items: Iterable<unknown>) => items
    for (const budget of [64 << 20, 8_000, 1_500]) {
      for (const batch of [1, 64]) {
        expect(readAll(scatter(inputs, { combiner: identity, memoryBudgetBytes: budget }, batch), 4, { memoryBudgetBytes: 100_000 })).toEqual(expected(inputs, 4))
        const sortBy = (x: unknown) => (x as Item).s
        expect(readAll(scatter(inputs, { combiner: identity, sortBy, memoryBudgetBytes: budget }, batch), 4, { memoryBudgetBytes: 100_000 })).toEqual(expected(inputs, 4, (x) => x.s))
      }
    }
  })

  it("combiner output is re-sorted by sortBy and may drop or add items", () => {
    const inputs: Array<Array<Item>> = [[{ k: "x", id: 1, s: 5 }, { k: "x", id: 2, s: 1 }, { k: "y", id: 3, s: 0 }, { k: "z", id: 4, s: 0 }]]
    const combiner = (key: unknown, items: Iterable<unknown>) => {
      const xs = [...items] as Array<Item>
      if (key === "y") return []
      return key === "x" ? [...xs, { k: "x", id: 9, s: 3 }] : xs
    }
    const got = readAll(scatter(inputs, { numTargets: 1, combiner, sortBy: (x) => (x as Item).s }), 1)
    expect(got).toEqual([[0, "x", [{ k: "x", id: 2, s: 1 }, { k: "x", id: 9, s: 3 }, { k: "x", id: 1, s: 5 }]], [0, "z", [{ k: "z", id: 4, s: 0 }]]])
  })

  it("a tiny budget writes many runs and merges in several passes, with the same groups as a big budget", () => {
    const inputs = randomInputs(11, 4, 1_500, (r) => `key-${Math.floor(r() * 300)}`)
    const big = readAll(scatter(inputs, { numTargets: 3 }), 3)
    const writeCounters = new CounterSet(), readCounters = new CounterSet()
    const outs = scatter(inputs, { numTargets: 3, memoryBudgetBytes: 4_000, counters: writeCounters }, 37)
    const runs = values(writeCounters.snapshot())["zephyr/shuffle_runs"]!
    expect(runs).toBeGreaterThan(40)
    expect(readManifest(outs[0]!.manifest).runs.length).toBeGreaterThan(10)
    // 100 kB lets the reader hold only 2 segments at once.
    const small = readAll(outs, 3, { memoryBudgetBytes: 100_000, counters: readCounters })
    const r = values(readCounters.snapshot())
    expect(r["zephyr/shuffle_merge_passes"]).toBeGreaterThanOrEqual(3 * 2)
    expect(r["zephyr/shuffle_spill_files"]).toBeGreaterThan(runs)
    expect(small).toEqual(big)
    expect(small).toEqual(expected(inputs, 3))
    // Spill files, and the tmpDir the reader created, are gone once each target's generator is done.
    expect(fs.existsSync(path.join(root, "merge"))).toBe(false)
  })

  it("skips what the consumer leaves of a group", () => {
    const inputs = randomInputs(2, 3, 500, (r) => Math.floor(r() * 20))
    const outs = scatter(inputs, { numTargets: 2, memoryBudgetBytes: 5_000 })
    const full = readAll(outs, 2, { memoryBudgetBytes: 100_000 })
    const manifests = outs.map((o) => o.manifest)
    const partial: Array<[number, unknown, Array<unknown>]> = []
    const wanted: Array<number> = []
    for (let t = 0; t < 2; t++) {
      let n = 0
      for (const [key, items] of groups(manifests, t, readOptions({ memoryBudgetBytes: 100_000 }))) {
        const take: Array<unknown> = []
        const want = n++ % 3 // 0, 1 or 2 items, then leave the group
        if (want > 0) for (const x of items) { take.push(x); if (take.length === want) break }
        partial.push([t, key, take])
        wanted.push(want)
      }
    }
    expect(partial.length).toBe(full.length)
    expect(full.some(([, , items]) => items.length > 3)).toBe(true)
    partial.forEach(([t, k, items], i) => expect([t, k, items]).toEqual([full[i]![0], full[i]![1], full[i]![2].slice(0, wanted[i])]))
  })

  it("a group's items are single-pass and end when the next group is requested", () => {
    const outs = scatter([[{ k: "a", id: 1 }, { k: "a", id: 2 }, { k: "b", id: 3 }]], { numTargets: 1 })
    const gen = groups([outs[0]!.manifest], 0, readOptions())
    const first = gen.next().value!
    const it = first[1][Symbol.iterator]()
    expect(it.next().value).toEqual({ k: "a", id: 1 })
    const second = gen.next().value!
    expect(second[0]).toBe("b")
    expect(it.next().done).toBe(true)
    expect([...first[1]]).toEqual([])
    expect([...second[1]]).toEqual([{ k: "b", id: 3 }])
    expect([...second[1]]).toEqual([])
    expect(gen.next().done).toBe(true)
  })

  it("closing the groups generator early removes its spill files", () => {
    const inputs = randomInputs(4, 4, 800, (r) => `k${Math.floor(r() * 100)}`)
    const outs = scatter(inputs, { numTargets: 1, memoryBudgetBytes: 3_000 })
    const tmpDir = path.join(root, "merge")
    const counters = new CounterSet()
    const gen = groups(outs.map((o) => o.manifest), 0, { tmpDir, memoryBudgetBytes: 100_000, counters })
    const [, items] = gen.next().value!
    items[Symbol.iterator]().next()
    expect(values(counters.snapshot())["zephyr/shuffle_merge_passes"]).toBeGreaterThan(0)
    expect(filesUnder(tmpDir).length).toBeGreaterThan(0)
    gen.return(undefined)
    expect(filesUnder(tmpDir)).toEqual([])
    expect(fs.existsSync(tmpDir)).toBe(false)
    // A `break` out of for-of closes it too.
    for (const [key] of groups(outs.map((o) => o.manifest), 0, { tmpDir, memoryBudgetBytes: 100_000 })) { expect(key).toBe("k0"); break }
    expect(filesUnder(tmpDir)).toEqual([])
    // Mapper outputs are untouched and still readable.
    expect(readAll(outs, 1)).toEqual(expected(inputs, 1))
  })

  it("groups mixed key types (strings, numbers, booleans, arrays, objects, null) by value", () => {
    const keys: Array<unknown> = ["a", "1", 1, 2.5, -3, 0, -0, true, false, null, undefined, [1, "a"], [1, "a", null], [1], { x: 1, y: [2] }, { y: [2], x: 1 }, { x: 2 }, [], {}, "", NaN]
    const inputs: Array<Array<Item>> = [0, 1, 2].map((m) => keys.map((k, i) => ({ k, id: m * 100 + i })))
    for (const budget of [64 << 20, 1_500]) {
      const outs = scatter(inputs, { numTargets: 5, memoryBudgetBytes: budget }, 7)
      const got = readAll(outs, 5, { memoryBudgetBytes: 100_000 })
      expect(got.map(([t, k, items]) => [t, k, items.map((x) => (x as Item).id)])).toEqual(expected(inputs, 5).map(([t, k, items]) => [t, k, items.map((x) => (x as Item).id)]))
      // 0/-0, null/undefined and the two spellings of {x, y} each make one group.
      expect(got.length).toBe(keys.length - 3)
      const obj = got.find(([, k]) => KeyOrder.compare(k, { x: 1, y: [2] }) === 0)!
      expect(obj[2].map((x) => (x as Item).id)).toEqual([14, 15, 114, 115, 214, 215])
    }
  })

  it("round-trips plain data items (Dates, bytes, nested values)", () => {
    const items = [
      { k: "a", id: 1, when: new Date(1_700_000_000_000), bytes: new Uint8Array([1, 2, 3]) },
      { k: "a", id: 2, nested: { list: [1, null, "x", true], f: 1.5 } },
      { k: null, id: 3 }
    ]
    const got = readAll(scatter([items], { numTargets: 1 }), 1)
    expect(got).toEqual([[0, null, [{ k: null, id: 3 }]], [0, "a", [items[0], items[1]]]])
    const d = (got[1]![2][0] as { when: Date }).when
    expect(d).toBeInstanceOf(Date)
    expect((got[1]![2][0] as { bytes: Uint8Array }).bytes).toBeInstanceOf(Uint8Array)
  })

  it("is deterministic", () => {
    const inputs = randomInputs(9, 3, 700, (r) => (r() < 0.3 ? [Math.floor(r() * 5), "x"] : `k${Math.floor(r() * 50)}`))
    const a = readAll(scatter(inputs, { numTargets: 3, memoryBudgetBytes: 6_000 }), 3, { memoryBudgetBytes: 100_000 })
    const b = readAll(scatter(inputs, { numTargets: 3, memoryBudgetBytes: 6_000 }), 3, { memoryBudgetBytes: 100_000 })
    expect(JSON.stringify(a)).toBe(JSON.stringify(b))
  })

  it("calls key once per item and propagates key errors", () => {
    let calls = 0
    const outs = scatter([[{ k: "a", id: 1 }, { k: "b", id: 2 }]], { key: (x) => { calls++; return (x as Item).k }, combiner: (_k, xs) => xs, memoryBudgetBytes: 1 })
    expect(calls).toBe(2)
    expect(outs[0]!.itemsPerTarget.reduce((a, b) => a + b, 0)).toBe(2)
    const w = new ScatterWriter({ dir: path.join(root, "bad"), numTargets: 2, key: () => () => 1, sortBy: undefined, combiner: undefined, memoryBudgetBytes: 1 << 20 })
    expect(() => w.add([{}])).toThrow(/A key must be a value/)
    w.abort()
    expect(fs.existsSync(path.join(root, "bad"))).toBe(false)
  })

  it("writes only run files and the manifest; empty targets have no segments", () => {
    const outs = scatter([[{ k: "only", id: 1 }]], { numTargets: 8, memoryBudgetBytes: 1 })
    const dir = path.dirname(outs[0]!.manifest)
    const files = filesUnder(dir)
    expect(files.filter((f) => f.includes(".tmp-"))).toEqual([])
    expect(files.filter((f) => f.endsWith(".zrun")).length).toBe(1)
    expect(files.filter((f) => f.endsWith(".json"))).toEqual([path.basename(outs[0]!.manifest)])
    const t = KeyOrder.target("only", 8)
    for (let u = 0; u < 8; u++) {
      expect(segmentsFor([outs[0]!.manifest], u).segments.length).toBe(u === t ? 1 : 0)
      expect([...groups([outs[0]!.manifest], u, readOptions())].length).toBe(u === t ? 1 : 0)
    }
    // Empty targets never open a run file: they still read fine with the runs gone.
    for (const f of files.filter((f) => f.endsWith(".zrun"))) fs.rmSync(path.join(dir, f))
    for (let u = 0; u < 8; u++) {
      if (u === t) expect(() => [...groups([outs[0]!.manifest], u, readOptions())]).toThrow(/ENOENT/)
      else expect([...groups([outs[0]!.manifest], u, readOptions())]).toEqual([])
    }
    // A mapper with no items writes an empty manifest.
    const empty = scatter([[]])[0]!
    expect(empty.itemsPerTarget).toEqual([0, 0, 0, 0])
    expect(readManifest(empty.manifest).runs).toEqual([])
    expect(filesUnder(path.dirname(empty.manifest))).toEqual([path.basename(empty.manifest)])
  })

  it("abort() removes everything an unfinished writer wrote", () => {
    const dir = path.join(root, "attempt-1")
    const w = new ScatterWriter({ dir, numTargets: 4, key: (x) => (x as Item).k, sortBy: undefined, combiner: undefined, memoryBudgetBytes: 2_000 })
    w.add(randomInputs(1, 1, 500, (r) => `k${Math.floor(r() * 30)}`)[0]!)
    expect(w.runCount).toBeGreaterThan(3)
    expect(filesUnder(dir).length).toBe(w.runCount)
    w.abort()
    expect(fs.existsSync(dir)).toBe(false)
    expect(() => w.add([])).toThrow(/aborted/)
    // In a directory that already existed, only the writer's files go.
    const shared = path.join(root, "shared")
    fs.mkdirSync(shared)
    fs.writeFileSync(path.join(shared, "other"), "x")
    const v = new ScatterWriter({ dir: shared, numTargets: 2, key: (x) => x, sortBy: undefined, combiner: undefined, memoryBudgetBytes: 100 })
    v.add(["a", "b", "c"])
    v.abort()
    expect(filesUnder(shared)).toEqual(["other"])
  })

  it("a combiner error leaves abort able to clean up", () => {
    const dir = path.join(root, "attempt-2")
    const w = new ScatterWriter({ dir, numTargets: 2, key: (x) => x, sortBy: undefined, combiner: (k) => { if (k === "boom") throw new Error("boom"); return [k] }, memoryBudgetBytes: 1_000 })
    w.add(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"])
    expect(w.runCount).toBeGreaterThan(0)
    expect(() => w.add(["boom", "boom"])).toThrow("boom")
    w.abort()
    expect(fs.existsSync(dir)).toBe(false)
  })
})
