import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { ScatterWriter } from "../../../runtime/shuffle/ScatterWriter.ts"
import { groups } from "../../../runtime/shuffle/ShuffleReader.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tmp = useTempDirs()

interface Item { readonly k: string; readonly id: number }

/** Two mappers' items: 600 keys (some sharing a prefix, some empty or non-ASCII), skewed. */
const inputs: Array<Array<Item>> = [0, 1].map((m) =>
  Array.from({ length: 5000 }, (_, i) => {
    const n = (i * 7919 + m * 104729) % 600
    const k = n === 0 ? "" : n % 50 === 0 ? `ключ-${n}` : n % 3 === 0 ? `k${n}` : `k${n % 7}`
    return { k, id: m * 100000 + i }
  }))

/**
 * Groups by `key` through the whole shuffle (scatter with a small budget so runs spill,
 * then every target's merge), as `key text -> item ids` in read order.
 */
const shuffle = (key: (x: Item) => unknown, text: (k: unknown) => string): Map<string, Array<number>> => {
  const dir = tmp()
  const manifests = inputs.map((items, m) => {
    const w = new ScatterWriter({ dir: path.join(dir, `map-${m}`), numTargets: 3, key: key as (x: unknown) => unknown, sortBy: undefined, combiner: undefined, memoryBudgetBytes: 64 * 1024 })
    for (let i = 0; i < items.length; i += 256) w.add(items.slice(i, i + 256))
    return w.finish().manifest
  })
  const out = new Map<string, Array<number>>()
  for (let t = 0; t < 3; t++) {
    for (const [k, items] of groups(manifests, t, { tmpDir: path.join(dir, "merge"), memoryBudgetBytes: 1 << 20 })) {
      const name = text(k)
      expect(out.has(name)).toBe(false)
      out.set(name, [...items].map((x) => (x as Item).id))
    }
  }
  return out
}

describe("string keys and generic keys", () => {
  it("give identical groups, with items in the same order", () => {
    const byString = shuffle((x) => x.k, (k) => k as string)
    const byArray = shuffle((x) => [x.k], (k) => (k as Array<string>)[0]!)
    const byObject = shuffle((x) => ({ k: x.k }), (k) => (k as { k: string }).k)
    expect(byString.size).toBeGreaterThan(100)
    const sorted = (m: Map<string, Array<number>>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    expect(sorted(byArray)).toEqual(sorted(byString))
    expect(sorted(byObject)).toEqual(sorted(byString))
    let total = 0
    for (const ids of byString.values()) total += ids.length
    expect(total).toBe(10000)
  })
})
