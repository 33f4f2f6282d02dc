import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { CounterSet, values } from "../../../runtime/task/CounterSet.ts"
import { fanIn, MergeHeap, reduceFanIn, segmentCost, SpillSpace } from "../../../runtime/shuffle/ExternalMerge.ts"
import { RunEncoder, type Segment, SegmentCursor } from "../../../runtime/shuffle/RunFile.ts"
import { BlockWriter } from "../../../runtime/storage/BlockFile.ts"

let root: string
beforeEach(() => { root = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-merge-")) })
afterEach(() => fs.rmSync(root, { recursive: true, force: true }))

let seq = 0
/** One run file holding a single sorted segment of `[key, sortKey, item]` records. */
const segment = (records: ReadonlyArray<readonly [unknown, unknown, unknown]>, sorted = false, perRecord = 16): Segment => {
  const file = path.join(root, "runs", `r${seq++}.zrun`)
  const w = new BlockWriter(file)
  const enc = new RunEncoder(w, sorted, perRecord)
  let prev: unknown = Symbol("none")
  for (const [k, s, x] of records) { enc.add(k, s, x, k === prev); prev = k }
  enc.endSegment()
  const { bytes } = w.close()
  return { file, offset: 0, length: bytes, count: records.length, maxBlock: enc.maxBlock, sorted }
}

const drain = (segments: ReadonlyArray<Segment>, sorted = false): Array<[unknown, unknown, unknown]> => {
  const heap = new MergeHeap(segments, sorted)
  const out: Array<[unknown, unknown, unknown]> = []
  try {
    while (heap.size > 0) { const c = heap.top; out.push([c.key, c.sortKey, c.item]); heap.next() }
  } finally { heap.close() }
  return out
}

const files = (dir: string) => (fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }) as Array<string> : []).filter((f) => fs.statSync(path.join(dir, f)).isFile())

describe("RunFile blocks", () => {
  it("run-length encodes keys, splits big segments into ~128 KiB blocks and reads them back", () => {
    const records: Array<[unknown, unknown, unknown]> = []
    for (let i = 0; i < 20_000; i++) records.push([`k${String(Math.floor(i / 7)).padStart(5, "0")}`, null, { i, pad: "x".repeat(20) }])
    const seg = segment(records, false, 4)
    expect(seg.maxBlock).toBeGreaterThan(64 * 1024)
    expect(seg.maxBlock).toBeLessThan(300 * 1024)
    const c = new SegmentCursor(seg, 0)
    const got: Array<unknown> = []
    while (c.advance()) got.push([c.key, null, c.item])
    c.close()
    expect(got).toEqual(records)
  })

  it("reads only its byte range", () => {
    const file = path.join(root, "two.zrun")
    const w = new BlockWriter(file)
    const enc = new RunEncoder(w, true, 10)
    enc.add("a", 1, "x", false); enc.add("a", 2, "y", true); enc.endSegment()
    const mid = w.byteCount
    enc.add("b", 0, "z", false); enc.endSegment()
    const end = w.byteCount
    w.close()
    const second = drain([{ file, offset: mid, length: end - mid, count: 1, maxBlock: end, sorted: true }], true)
    expect(second).toEqual([["b", 0, "z"]])
    expect(drain([{ file, offset: 0, length: mid, count: 2, maxBlock: end, sorted: true }], true)).toEqual([["a", 1, "x"], ["a", 2, "y"]])
  })
})

describe("MergeHeap", () => {
  it("merges by (key, sortKey) and keeps segment order for ties", () => {
    const a = segment([["a", 2, "a2-0"], ["b", 1, "b1-0"], ["c", 0, "c0-0"]], true)
    const b = segment([["a", 1, "a1-1"], ["a", 2, "a2-1"], ["c", 0, "c0-1"]], true)
    const c = segment([["b", 1, "b1-2"]], true)
    expect(drain([a, b, c], true).map(([, , x]) => x)).toEqual(["a1-1", "a2-0", "a2-1", "b1-0", "b1-2", "c0-0", "c0-1"])
  })
})

describe("reduceFanIn", () => {
  const build = (n: number) => {
    const segs: Array<Segment> = []
    const all: Array<[unknown, unknown, unknown]> = []
    for (let s = 0; s < n; s++) {
      const recs: Array<[unknown, unknown, unknown]> = []
      for (let i = 0; i < 50; i++) recs.push([(i * 3 + s) % 40, null, `${s}:${i}`])
      recs.sort((x, y) => (x[0] as number) - (y[0] as number))
      segs.push(segment(recs))
      all.push(...recs)
    }
    return { segs, all }
  }

  it("does nothing when the budget holds every segment", () => {
    const { segs } = build(5)
    const spill = new SpillSpace(path.join(root, "tmp"))
    expect(reduceFanIn(segs, 64 << 20, false, spill)).toBe(segs)
    expect(fs.existsSync(path.join(root, "tmp"))).toBe(false)
  })

  it("merges only as much as needed when one pass suffices", () => {
    const { segs, all } = build(5)
    const budget = 4 * segmentCost(segs[0]!) + 10_000 // fan-in 4, with room for the merged segment being a little bigger
    expect(fanIn(segs, budget)).toBe(4)
    const counters = new CounterSet()
    const spill = new SpillSpace(path.join(root, "tmp"))
    const out = reduceFanIn(segs, budget, false, spill, counters)
    expect(out.length).toBe(4)
    expect(out.slice(1)).toEqual(segs.slice(2))
    expect(values(counters.snapshot())).toMatchObject({ "zephyr/shuffle_merge_passes": 1, "zephyr/shuffle_spill_files": 1 })
    const merged = drain(out)
    expect(merged.map(([, , x]) => x).sort()).toEqual(all.map(([, , x]) => x).sort())
    // Stable: the same as merging the original segments directly.
    expect(merged).toEqual(drain(segs))
    spill.cleanup()
    expect(files(path.join(root, "tmp"))).toEqual([])
  })

  it("merges in several passes with fan-in 2, deleting consumed spill files as it goes", () => {
    const { segs } = build(23)
    const counters = new CounterSet()
    const spill = new SpillSpace(path.join(root, "tmp"))
    const out = reduceFanIn(segs, 1, false, spill, counters)
    expect(out.length).toBe(2)
    expect(values(counters.snapshot())["zephyr/shuffle_merge_passes"]).toBeGreaterThanOrEqual(4)
    // Only the spill files still to be read are left; the mapper runs are all there.
    expect(files(path.join(root, "tmp")).length).toBe(out.filter((s) => !segs.includes(s)).length)
    expect(files(path.join(root, "runs")).length).toBe(23)
    expect(drain(out)).toEqual(drain(segs))
    spill.cleanup()
    expect(files(path.join(root, "tmp"))).toEqual([])
  })
})
