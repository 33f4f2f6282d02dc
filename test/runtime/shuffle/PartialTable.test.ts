import { describe, expect, it } from "vitest"
import * as KeyOrder from "../../../runtime/shuffle/KeyOrder.ts"
import { PartialTable } from "../../../runtime/shuffle/PartialTable.ts"

const slotOf = (t: PartialTable, key: string) => t.find(KeyOrder.hash(key), key, false)

describe("PartialTable", () => {
  it("finds every key it was given after growing, by an equal string that is another object", () => {
    const t = new PartialTable()
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
  })

  it("tells a string key from a complex key with the same canonical text", () => {
    const t = new PartialTable()
    const complexKey = [1, "a"]
    const text = KeyOrder.canonical(complexKey)
    t.insert(KeyOrder.hashCanonical(text), text, true, complexKey, "complex")
    expect(t.find(KeyOrder.hash(text), text, false)).toBe(-1)
    const slot = t.find(KeyOrder.hashCanonical(text), text, true)
    expect(t.partial(slot)).toBe("complex")
    expect(t.userKey(slot)).toBe(complexKey)
  })

  it("keeps a slot's list through growth, and lists every slot's items", () => {
    const t = new PartialTable()
    t.insert(KeyOrder.hash("a"), "a", false, "a", 1)
    const a = slotOf(t, "a")
    t.toList(a, [1, 2, 3], 16).items.push(4)
    for (let i = 0; i < 1_000; i++) t.insert(KeyOrder.hash(`k${i}`), `k${i}`, false, `k${i}`, i)
    const moved = slotOf(t, "a")
    expect(t.isList(moved)).toBe(true)
    expect(t.list(moved)).toMatchObject({ items: [1, 2, 3, 4], combineAt: 16, dirty: true })
    const all: Array<unknown> = []
    t.forEach((slot) => all.push(...t.items(slot)))
    expect(all).toHaveLength(1_004)
    t.clear()
    expect(t.size).toBe(0)
    expect(slotOf(t, "a")).toBe(-1)
  })
})
