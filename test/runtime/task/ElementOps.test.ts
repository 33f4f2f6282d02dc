import { describe, expect, it } from "vitest"
import { CHUNK_ITEMS, type Transducer } from "../../../runtime/task/ChunkStream.ts"
import * as ElementOps from "../../../runtime/task/ElementOps.ts"

const feed = (make: () => Transducer, chunks: Array<Array<unknown>>) => {
  const t = make()
  const out: Array<unknown> = []
  for (const c of chunks) {
    out.push(...t.push(c))
    while (t.pending) out.push(...t.more!())
    if (t.done) break
  }
  out.push(...t.end())
  return out
}
const op = { id: "o1", kind: "flatMap", name: "f", source: { file: "x.ts", line: 1, column: 1 } } as const

describe("element-wise ops", () => {
  it("map, filter, flatMap (arrays and generators)", () => {
    expect(feed(ElementOps.map((x: any) => x * 2), [[1, 2], [3]])).toEqual([2, 4, 6])
    expect(feed(ElementOps.filter((x: any) => x % 2), [[1, 2, 3]])).toEqual([1, 3])
    expect(feed(ElementOps.flatMap((x: any) => (function* () { yield x; yield x })(), op), [[1, 2]])).toEqual([1, 1, 2, 2])
    expect(() => feed(ElementOps.flatMap(() => 5 as any, op), [[1]])).toThrow(/flatMap\(f\) must return an iterable/)
  })
  it("flatMap cuts a big expansion into chunks of about CHUNK_ITEMS, pulled one at a time, in order", () => {
    let made = 0
    const fm = ElementOps.flatMap((x: any) => (function* () { for (let i = 0; i < 10_000; i++) { made++; yield `${x}.${i}` } })(), op)
    const t = fm()
    const first = t.push(["a", "b"])
    expect(first.length).toBe(CHUNK_ITEMS)
    expect(made).toBe(CHUNK_ITEMS) // the rest waits for `more`
    expect(t.pending).toBe(true)
    const rest: Array<unknown> = []
    while (t.pending) { const c = t.more!(); expect(c.length).toBeLessThanOrEqual(CHUNK_ITEMS); rest.push(...c) }
    const all = [...first, ...rest]
    expect(all.length).toBe(20_000)
    expect(all[0]).toBe("a.0")
    expect(all[10_000]).toBe("b.0")
    expect(all[19_999]).toBe("b.9999")
    // small arrays still give one output chunk per input chunk
    const small = ElementOps.flatMap((x: any) => [x, x], op)()
    expect(small.push([1, 2, 3])).toEqual([1, 1, 2, 2, 3, 3])
    expect(small.pending).toBe(false)
  })

  it("flatMap's close returns the generator it was in the middle of, so its finally runs", () => {
    let finalized = 0
    const t = ElementOps.flatMap(() => (function* () { try { for (let i = 0; i < 1_000_000; i++) yield i } finally { finalized++ } })(), op)()
    expect(t.push([0]).length).toBe(CHUNK_ITEMS)
    expect(finalized).toBe(0)
    t.close!()
    expect(finalized).toBe(1)
    expect(t.pending).toBe(false)
  })

  it("select keeps the named keys in the order given and omits missing ones", () => {
    expect(feed(ElementOps.select(["b", "a", "zz"]), [[{ a: 1, b: 2, c: 3 }]])).toEqual([{ b: 2, a: 1 }])
    expect(Object.keys(feed(ElementOps.select(["b", "a"]), [[{ a: 1, b: 2 }]])[0] as object)).toEqual(["b", "a"])
  })
  it("takePerShard stops asking for input once it has n items", () => {
    const t = ElementOps.takePerShard(3)()
    expect(t.push([1, 2])).toEqual([1, 2])
    expect(t.done).toBe(false)
    expect(t.push([3, 4, 5])).toEqual([3])
    expect(t.done).toBe(true)
    expect(feed(ElementOps.takePerShard(0), [[1]])).toEqual([])
  })
  it("window makes arrays of size n across chunks, the last may be short", () => {
    expect(feed(ElementOps.window(2), [[1, 2, 3], [4, 5]])).toEqual([[1, 2], [3, 4], [5]])
    expect(feed(ElementOps.window(2), [])).toEqual([])
  })
  it("windowBy emits a window when the fold says stop, restarting from the initial state", () => {
    // windows whose sum stays <= 5
    const fold = (s: number, x: number) => [s + x <= 5, s + x] as const
    const w = { kind: "windowBy" as const, fold: fold as any, initial: 0 }
    expect(feed(ElementOps.windowBy(w, { ...op, kind: "windowBy" }), [[1, 2, 3], [4, 1, 6]])).toEqual([[1, 2], [3], [4, 1], [6]])
  })
  it("an expression filter", () => {
    expect(feed(ElementOps.exprFilter({ op: "gt", left: { op: "col", path: ["a"] }, right: { op: "lit", value: 1 } }), [[{ a: 1 }, { a: 2 }, {}]])).toEqual([{ a: 2 }])
  })
})
