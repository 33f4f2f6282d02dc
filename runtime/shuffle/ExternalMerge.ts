import * as fs from "node:fs"
import * as path from "node:path"
import type { CounterSet } from "../task/CounterSet.ts"
import { BlockWriter, uniqueName } from "../storage/BlockFile.ts"
import * as Directory from "../storage/Directory.ts"
import { compare } from "./KeyOrder.ts"
import { BLOCK_TARGET_BYTES, RunEncoder, type Segment, SegmentCursor } from "./RunFile.ts"

/**
 * The reduce side's k-way merge of sorted segments, and the external merge that first
 * combines segments in passes through spill files when there are more of them than the
 * memory budget lets the reader hold open at once.
 */

/**
 * A binary min-heap of segment cursors ordered by (key, sortKey, segment index). Equal
 * records keep the order of their segments, so merging is stable and deterministic.
 */
export class MergeHeap {
  private readonly heap: Array<SegmentCursor> = []
  private readonly all: Array<SegmentCursor> = []

  constructor(segments: ReadonlyArray<Segment>, private readonly sorted: boolean) {
    try {
      for (let i = 0; i < segments.length; i++) {
        const c = new SegmentCursor(segments[i]!, i)
        this.all.push(c)
        if (c.advance()) this.heap.push(c)
      }
    } catch (e) {
      this.close()
      throw e
    }
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i)
  }

  get size(): number { return this.heap.length }

  /** The cursor holding the smallest record; only valid while `size > 0`. */
  get top(): SegmentCursor { return this.heap[0]! }

  /** Moves past the top record. */
  next(): void {
    const heap = this.heap
    const c = heap[0]!
    if (!c.advance()) {
      const last = heap.pop()!
      if (heap.length === 0) return
      heap[0] = last
    }
    this.siftDown(0)
  }

  close(): void {
    this.heap.length = 0
    for (const c of this.all) c.close()
  }

  private less(a: SegmentCursor, b: SegmentCursor): boolean {
    const ka = a.key, kb = b.key
    if (ka !== kb) {
      const c = compare(ka, kb)
      if (c !== 0) return c < 0
    }
    if (this.sorted) {
      const sa = a.sortKey, sb = b.sortKey
      if (sa !== sb) {
        const c = compare(sa, sb)
        if (c !== 0) return c < 0
      }
    }
    return a.index < b.index
  }

  private siftDown(i: number): void {
    const heap = this.heap
    const n = heap.length
    const x = heap[i]!
    for (;;) {
      let child = 2 * i + 1
      if (child >= n) break
      const r = child + 1
      if (r < n && this.less(heap[r]!, heap[child]!)) child = r
      if (!this.less(heap[child]!, x)) break
      heap[i] = heap[child]!
      i = child
    }
    heap[i] = x
  }
}

/**
 * A private directory for spill files, made inside `tmpDir` on first use (creating `tmpDir`
 * if missing) and removed on cleanup, with `tmpDir` too when this space created it and it
 * is empty by then.
 */
export class SpillSpace {
  private dir: string | undefined
  private createdTmpDir = false

  private tmpDir: string | undefined

  /** `tmpDir` may be a function: it is asked for on the first spill only. */
  constructor(private readonly tmpDirOf: string | (() => string)) {}

  newFile(stem: string): string {
    if (this.dir === undefined) {
      this.tmpDir ??= typeof this.tmpDirOf === "string" ? this.tmpDirOf : this.tmpDirOf()
      if (Directory.make(this.tmpDir) !== undefined) this.createdTmpDir = true
      this.dir = fs.mkdtempSync(path.join(this.tmpDir, "zephyr-merge-"))
    }
    return uniqueName(this.dir, stem, ".zrun")
  }

  /** Whether `file` is a spill file of this space (and so may be deleted once merged). */
  owns(file: string): boolean {
    return this.dir !== undefined && path.dirname(file) === this.dir
  }

  remove(file: string): void {
    fs.rmSync(file, { force: true })
  }

  cleanup(): void {
    const dir = this.dir
    this.dir = undefined
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
    if (this.createdTmpDir && this.tmpDir !== undefined) {
      this.createdTmpDir = false
      try { fs.rmdirSync(this.tmpDir) } catch { /* not empty: another reader's spills */ }
    }
  }
}

/** Bytes held by the reader for one open segment: BlockFile.read's 64 KiB buffer and one decoded block. */
const READ_BUFFER = 64 * 1024
export const segmentCost = (s: Segment): number => READ_BUFFER + 1024 + 2 * Math.min(s.length, s.maxBlock)

const totalCost = (segments: ReadonlyArray<Segment>): number => {
  let c = 0
  for (const s of segments) c += segmentCost(s)
  return c
}

/** How many segments an intermediate merge may take within `budget` (at least 2). */
export const fanIn = (segments: ReadonlyArray<Segment>, budget: number): number => {
  let worst = READ_BUFFER
  for (const s of segments) worst = Math.max(worst, segmentCost(s))
  return Math.max(2, Math.floor(budget / worst))
}

/** Merges `segments` into one spill file and returns it as a segment. */
export const mergeToSpill = (segments: ReadonlyArray<Segment>, sorted: boolean, spill: SpillSpace): Segment => {
  let bytes = 0, count = 0
  for (const s of segments) { bytes += s.length; count += s.count }
  const file = spill.newFile("spill")
  const writer = new BlockWriter(file)
  let maxBlock = 0
  try {
    const heap = new MergeHeap(segments, sorted)
    try {
      const enc = new RunEncoder(writer, sorted, count === 0 ? 64 : bytes / count)
      let prev: unknown = null, first = true
      while (heap.size > 0) {
        const c = heap.top
        const key = c.key
        const same = !first && (key === prev || compare(key, prev) === 0)
        if (!same) { prev = key; first = false }
        enc.add(key, c.sortKey, c.item, same)
        heap.next()
      }
      enc.endSegment()
      maxBlock = enc.maxBlock
    } finally {
      heap.close()
    }
  } catch (e) {
    writer.abort()
    throw e
  }
  const written = writer.close()
  return { file, offset: 0, length: written.bytes, count, maxBlock, sorted }
}

/** Expected cost of a spill segment merged from `w` inputs of `avgLength` bytes (blocks overshoot the target a little). */
const spillCost = (w: number, avgLength: number): number => READ_BUFFER + 1024 + 2 * Math.min(avgLength * w, BLOCK_TARGET_BYTES * 1.25)

/**
 * Merges segments in passes into spill files until the final merge fits the budget (the
 * segments' costs add up to at most `budget`, or only 2 are left), and returns the
 * segments for that final merge. Each
 * merge takes consecutive segments, so ties keep the input order. When one pass can get
 * there, only as few segments as needed are merged (the rest are read directly by the
 * final merge); otherwise every segment is merged, in balanced groups of at most the
 * fan-in, and the next pass looks again. Spill files consumed by a later pass are deleted
 * at once; mapper runs are never deleted.
 */
export const reduceFanIn = (
  segments: ReadonlyArray<Segment>,
  budget: number,
  sorted: boolean,
  spill: SpillSpace,
  counters?: CounterSet | undefined
): ReadonlyArray<Segment> => {
  let list = segments
  for (;;) {
    const n = list.length
    if (n <= 2 || totalCost(list) <= budget) return list
    const f = fanIn(list, budget)
    const next: Array<Segment> = []
    const merge = (from: number, to: number): void => {
      const group = list.slice(from, to)
      const merged = mergeToSpill(group, sorted, spill)
      next.push(merged)
      for (const s of group) if (spill.owns(s.file)) spill.remove(s.file)
      counters?.increment("zephyr/shuffle_spill_files", 1)
      counters?.increment("zephyr/shuffle_spill_bytes", merged.length)
    }
    // The fewest merges of w consecutive segments after which everything fits at once.
    let worst = 0, total = 0
    for (const s of list) { worst = Math.max(worst, segmentCost(s)); total += s.length }
    const avg = total / n
    let windows = 0, width = 0
    for (let m = 1; 2 * m <= n && windows === 0; m++) {
      for (let w = 2; w <= f && m * w <= n; w++) {
        if (m * spillCost(w, avg) + (n - m * w) * worst <= budget) { windows = m; width = w; break }
      }
    }
    if (windows > 0) {
      for (let i = 0; i < windows; i++) merge(i * width, (i + 1) * width)
      for (let i = windows * width; i < n; i++) next.push(list[i]!)
    } else {
      const groups = Math.ceil(n / f)
      const size = Math.ceil(n / groups)
      for (let i = 0; i < n; i += size) {
        if (Math.min(n, i + size) - i === 1) next.push(list[i]!)
        else merge(i, Math.min(n, i + size))
      }
    }
    counters?.increment("zephyr/shuffle_merge_passes", 1)
    list = next
  }
}
