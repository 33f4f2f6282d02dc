import { describe, expect, it } from "vitest"
import * as KeyOrder from "../../../runtime/shuffle/KeyOrder.ts"
import * as PartialTables from "../../../runtime/shuffle/PartialTable.ts"
import { PartialTable } from "../../../runtime/shuffle/PartialTable.ts"

interface List { readonly items: Array<number> }

const slotOf = (t: PartialTable<List>, key: string) => t.find(KeyOrder.hash(key), key, false)

describe("PartialTable", () => {
  it("finds every key it was given after growing, by an equal string that is another object", () => {
    const t = new PartialTable<List>()
    const line = Array.from({ length: 5_000 }, (_, i) => `key${i}`).join(" ")
    // Keys cut out of one line, as a word splitter does.
    for (const word of line.split(" ")) {
      expect(slotOf(t, word)).toBe(-1)
      t.insert(KeyOrder.hash(word), word, false, word, { word })
    }
    expect(t.size).toBe(5_000)
    for (let i = 0; i < 5_000; i++) {
      const key = ["key", String(i)].join("")
      const slot = slotOf(t, key)
      expect(slot).toBeGreaterThanOrEqual(0)
      expect(t.userKey(slot)).toBe(key)
      expect(t.partial(slot)).toEqual({ word: key })
      expect(t.hash(slot)).toBe(KeyOrder.hash(key))
    }
    expect(slotOf(t, "key5000")).toBe(-1)
    // A partial is raw (its key's one item, not combined) until the combiner's output replaces it.
    t.setPartial(slotOf(t, "key7"), { word: "key7", combined: true })
    for (let i = 0; i < 5_000; i++) t.insert(KeyOrder.hash(`more${i}`), `more${i}`, false, `more${i}`, i)
    expect(t.isRaw(slotOf(t, "key7"))).toBe(false)
    expect(t.partial(slotOf(t, "key7"))).toEqual({ word: "key7", combined: true })
    expect(t.isRaw(slotOf(t, "key8"))).toBe(true)
  })

  it("tells a string key from a complex key with the same canonical text", () => {
    const t = new PartialTable<List>()
    const complexKey = [1, "a"]
    const text = KeyOrder.canonical(complexKey)
    t.insert(KeyOrder.hashCanonical(text), text, true, complexKey, "complex")
    expect(t.find(KeyOrder.hash(text), text, false)).toBe(-1)
    const slot = t.find(KeyOrder.hashCanonical(text), text, true)
    expect(t.partial(slot)).toBe("complex")
    expect(t.userKey(slot)).toBe(complexKey)
  })

  it("keeps a slot's list through growth, and visits every slot", () => {
    const t = new PartialTable<List>()
    t.insert(KeyOrder.hash("a"), "a", false, "a", 1)
    const a = slotOf(t, "a")
    t.toList(a, { items: [1, 2, 3] })
    t.list(a).items.push(4)
    for (let i = 0; i < 1_000; i++) t.insert(KeyOrder.hash(`k${i}`), `k${i}`, false, `k${i}`, i)
    const moved = slotOf(t, "a")
    expect(t.isList(moved)).toBe(true)
    expect(t.list(moved)).toEqual({ items: [1, 2, 3, 4] })
    let partials = 0, lists = 0
    t.forEach((slot) => { if (t.isList(slot)) lists++; else partials++ })
    expect([partials, lists]).toEqual([1_000, 1])
    t.clear()
    expect(t.size).toBe(0)
    expect(slotOf(t, "a")).toBe(-1)
  })

  it("keeps each slot's sums through growth, and a slot given a partial again is a partial", () => {
    const t = new PartialTable<List>()
    t.useSums(2)
    for (let i = 0; i < 1_000; i++) {
      t.insert(KeyOrder.hash(`k${i}`), `k${i}`, false, `k${i}`, i)
      if (i % 3 === 0) {
        const slot = slotOf(t, `k${i}`)
        t.startSums(slot)
        t.setSum(slot, 0, i)
        t.setSum(slot, 1, -i)
        t.addSum(slot, 1, 0.5)
      }
    }
    for (let i = 0; i < 1_000; i++) {
      const slot = slotOf(t, `k${i}`)
      expect(t.isSums(slot)).toBe(i % 3 === 0)
      if (i % 3 === 0) expect([t.sum(slot, 0), t.sum(slot, 1)]).toEqual([i, 0.5 - i])
      else expect(t.partial(slot)).toBe(i)
    }
    const slot = slotOf(t, "k3")
    t.setPartial(slot, "back")
    expect(t.isSums(slot)).toBe(false)
    expect(t.partial(slot)).toBe("back")
  })

  it("keeps its size when emptied, so a scatter that spilled fills it again without growing from 256 slots", () => {
    const t = new PartialTable<List>()
    for (let i = 0; i < 5_000; i++) t.insert(KeyOrder.hash(`k${i}`), `k${i}`, false, `k${i}`, { i })
    t.toList(slotOf(t, "k1"), { items: [1] })
    const grown = t.capacity
    expect(grown).toBeGreaterThanOrEqual(10_000)
    t.clear()
    expect([t.size, t.capacity]).toEqual([0, grown])
    expect(slotOf(t, "k1")).toBe(-1)
    let visited = 0
    t.forEach(() => visited++)
    expect(visited).toBe(0)
    // Filled again: a key that was a list is a plain partial now, and nothing it held is left.
    t.insert(KeyOrder.hash("k1"), "k1", false, "k1", "again")
    expect(t.isList(slotOf(t, "k1"))).toBe(false)
    expect(t.partial(slotOf(t, "k1"))).toBe("again")
    expect(t.isRaw(slotOf(t, "k1"))).toBe(true)
    expect(t.capacity).toBe(grown)
  })

  it("hands the next scatter of the process the table the last one released, emptied, at its size; the larger of two; none above 2^18 slots", () => {
    PartialTables.make() // whatever an earlier test left
    const first = PartialTables.make<List>()
    for (let i = 0; i < 5_000; i++) first.insert(KeyOrder.hash(`k${i}`), `k${i}`, false, `k${i}`, i)
    const grown = first.capacity
    first.release()
    const next = PartialTables.make<List>()
    expect(next).toBe(first)
    expect([next.size, next.capacity]).toEqual([0, grown])
    expect(slotOf(next, "k1")).toBe(-1)
    // Taken: the one after gets a new table.
    expect(PartialTables.make<List>().capacity).toBe(256)
    // Of two released tables the larger stays.
    const small = PartialTables.make<List>()
    small.insert(KeyOrder.hash("a"), "a", false, "a", 1)
    next.release()
    small.release()
    expect(PartialTables.make<List>()).toBe(next)
    // A table of a shard of 140k keys (2^19 slots) is let go.
    const huge = PartialTables.make<List>()
    for (let i = 0; i < 140_000; i++) huge.insert(KeyOrder.hash(`h${i}`), `h${i}`, false, `h${i}`, i)
    expect(huge.capacity).toBe(2 ** 19)
    huge.release()
    expect(PartialTables.make<List>()).not.toBe(huge)
  })
})
