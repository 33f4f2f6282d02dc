import { describe, expect, it } from "vitest"
import { CHUNK_ITEMS } from "../../../runtime/task/ChunkStream.ts"
import { mergeJoin } from "../../../runtime/task/MergeJoin.ts"

const run = (left: Array<Array<{ k: unknown; l: string }>>, right: Array<{ k: unknown; r: string }>, how: "inner" | "left") => {
  const t = mergeJoin({
    right: right[Symbol.iterator](),
    leftKey: (x: any) => x.k,
    rightKey: (x: any) => x.k,
    combiner: (l: any, r: any) => `${l.l}${r ? r.r : "-"}`,
    how,
    where: "shard 0"
  })()
  const out: Array<unknown> = []
  for (const chunk of left) {
    out.push(...t.push(chunk))
    while (t.pending) out.push(...t.more!())
  }
  out.push(...t.end())
  return out
}

describe("mergeJoin", () => {
  const right = [{ k: 1, r: "a" }, { k: 2, r: "b" }, { k: 2, r: "c" }, { k: 4, r: "d" }]
  it("inner: matching keys only, duplicates give the cartesian product, across chunk boundaries", () => {
    expect(run([[{ k: 0, l: "z" }, { k: 2, l: "x" }], [{ k: 2, l: "y" }, { k: 3, l: "w" }, { k: 4, l: "v" }]], right, "inner")).toEqual(["xb", "xc", "yb", "yc", "vd"])
  })
  it("left: a missing right side is null", () => {
    expect(run([[{ k: 0, l: "z" }, { k: 1, l: "x" }, { k: 3, l: "w" }]], right, "left")).toEqual(["z-", "xa", "w-"])
  })
  it("an empty right side", () => {
    expect(run([[{ k: 1, l: "x" }]], [], "left")).toEqual(["x-"])
    expect(run([[{ k: 1, l: "x" }]], [], "inner")).toEqual([])
  })
  it("refuses an unsorted left side", () => {
    expect(() => run([[{ k: 2, l: "x" }, { k: 1, l: "y" }]], right, "inner")).toThrow(/left side of sortedMergeJoin is not sorted by key \(1 after 2\) in shard 0/)
  })
  it("refuses an unsorted right side", () => {
    expect(() => run([[{ k: 5, l: "x" }]], [{ k: 3, r: "a" }, { k: 1, r: "b" }], "inner")).toThrow(/right side of sortedMergeJoin is not sorted/)
  })
  it("compares keys by value (arrays, strings)", () => {
    const t = mergeJoin({ right: [{ k: ["a", 1], r: "R" }][Symbol.iterator](), leftKey: (x: any) => x.k, rightKey: (x: any) => x.k, combiner: (l: any, r: any) => [l.l, r.r], how: "inner", where: "s" })()
    expect(t.push([{ k: ["a", 1], l: "L" }])).toEqual([["L", "R"]])
  })
  it("emits a hot key's product a chunk at a time, in order, and closes the right side when stopped", () => {
    let returned = false
    const hot = Array.from({ length: 3_000 }, (_, i) => ({ k: 1, r: i }))
    const right = (function* () { try { yield* hot } finally { returned = true } })()
    const t = mergeJoin({ right, leftKey: (x: any) => x.k, rightKey: (x: any) => x.k, combiner: (l: any, r: any) => l.l * 10_000 + r.r, how: "inner", where: "s" })()
    const left = Array.from({ length: 3 }, (_, l) => ({ k: 1, l }))
    const first = t.push(left)
    expect(first.length).toBe(CHUNK_ITEMS)
    expect(t.pending).toBe(true)
    const all = [...first]
    while (t.pending) { const c = t.more!(); expect(c.length).toBeLessThanOrEqual(CHUNK_ITEMS); all.push(...c) }
    expect(all.length).toBe(9_000)
    expect(all.slice(2_999, 3_001)).toEqual([2_999, 10_000])
    expect(all[8_999]).toBe(22_999)
    t.close!()
    expect(returned).toBe(true)
  })
})
