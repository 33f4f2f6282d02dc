import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as KeyOrder from "../../../runtime/shuffle/KeyOrder.ts"

describe("KeyOrder", () => {
  it("orders by type, then by value", () => {
    const keys = [{ a: 1 }, "b", [1, "x"], 2, null, true, "a", [1], -1, false, new Date(5), new Date(1), new Uint8Array([2]), new Uint8Array([1, 9])]
    expect([...keys].sort(KeyOrder.compare)).toEqual([null, false, true, -1, 2, "a", "b", [1], [1, "x"], { a: 1 }, new Date(1), new Date(5), new Uint8Array([1, 9]), new Uint8Array([2])])
  })
  it("compares objects by value whatever their key order", () => {
    expect(KeyOrder.compare({ a: 1, b: [2] }, { b: [2], a: 1 })).toBe(0)
    expect(KeyOrder.hash({ a: 1, b: [2] })).toBe(KeyOrder.hash({ b: [2], a: 1 }))
    expect(KeyOrder.compare(undefined, null)).toBe(0)
  })
  it("hashes distinct values apart, the same value together, independent of process", () => {
    expect(KeyOrder.hash("word")).toBe(KeyOrder.hash("word"))
    expect(KeyOrder.hash("1")).not.toBe(KeyOrder.hash(1))
    expect(KeyOrder.hash(new Date(1))).not.toBe(KeyOrder.hash(new Date(2)))
    // A pinned value: routing must never change between versions or processes.
    expect(KeyOrder.hash("zephyr")).toBe(908501703)
    const counts = new Array(8).fill(0)
    for (let i = 0; i < 8000; i++) counts[KeyOrder.target(`key-${i}`, 8)]++
    for (const c of counts) expect(c).toBeGreaterThan(800)
  })
  it("routes a hash to `hash % n` exactly, for every 32-bit hash and any number of targets", () => {
    const hashes = fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1))
    const targets = fc.oneof(fc.integer({ min: 1, max: 40_000 }), fc.constantFrom(1, 2, 3, 8, 32_767, 32_768, 65_536, 2 ** 31 - 1, 2 ** 32 - 1))
    fc.assert(fc.property(hashes, targets, (h, n) => KeyOrder.targetOf(h, n) === h % n), { numRuns: 20_000 })
    for (const key of ["a", "word", "ünïcode", "key-123"]) expect(KeyOrder.target(key, 1_000)).toBe(KeyOrder.hash(key) % 1_000)
  })
})
