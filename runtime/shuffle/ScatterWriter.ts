import * as fs from "node:fs"
import * as path from "node:path"
import type { CounterSet } from "../../compiler/plan/CounterSet.ts"
import { BlockWriter, encode, uniqueName } from "../storage/BlockFile.ts"
import * as KeyOrder from "./KeyOrder.ts"
import { FORMAT, type Manifest, type ManifestRun, type ManifestSegment, RunEncoder, writeManifest } from "./RunFile.ts"

export interface ScatterOptions {
  readonly dir: string            // a directory unique to this task attempt (create it if missing)
  readonly numTargets: number     // number of reduce shards R (>= 1)
  readonly key: (item: unknown) => unknown
  readonly sortBy: ((item: unknown) => unknown) | undefined       // secondary order inside a group
  readonly combiner: ((key: unknown, items: Iterable<unknown>) => Iterable<unknown>) | undefined
  readonly memoryBudgetBytes: number   // flush a sorted run to disk before the buffer grows past about this
  readonly counters?: CounterSet | undefined   // add "zephyr/shuffle_bytes_written", "zephyr/shuffle_runs", "zephyr/shuffle_items_out"
}

export interface ScatterOutput {
  readonly manifest: string            // path of a small sidecar file describing all run files and per-target segments
  readonly itemsPerTarget: ReadonlyArray<number>
  readonly bytes: number
}

/**
 * In-memory cost of a buffered record relative to its msgpack size: decoded JS objects,
 * strings and the buffer slots take about 2-3× their encoded bytes (measured ~3× for
 * small objects with a short string key and a 70-char string field).
 */
const MEMORY_PER_ENCODED_BYTE = 2.5
const BYTES_PER_SLOT = 32
/** Sizes of the first records are all measured, then one record in SAMPLE_EVERY. */
const SAMPLE_FIRST = 32
const SAMPLE_EVERY = 128

/** Key kinds of a target's buffer: all strings and all (non-NaN) numbers sort with `<`. */
const EMPTY = 0, STRINGS = 1, NUMBERS = 2, MIXED = 3

class TargetBuffer {
  keys: Array<unknown> = []
  sorts: Array<unknown> = []
  items: Array<unknown> = []
  kind = EMPTY

  clear(): void {
    this.keys = []
    this.sorts = []
    this.items = []
    this.kind = EMPTY
  }
}

const sameKey = (primitive: boolean, a: unknown, b: unknown): boolean =>
  a === b || (!primitive && KeyOrder.compare(a, b) === 0)

/**
 * The map side of a shuffle. Items are routed to `KeyOrder.target(key, numTargets)` and
 * buffered per target; when the estimated buffer size passes the memory budget the buffer
 * is sorted by (key, sortKey, arrival) and written as one run file holding a contiguous,
 * sorted segment per non-empty target. With a combiner, an over-budget buffer is first
 * combined in memory (once per key group); if that brings it under half the budget it
 * stays in memory and keeps filling, otherwise the combined buffer is written as a run.
 * `finish` combines and writes what is left, then publishes the manifest.
 */
export class ScatterWriter {
  private readonly dir: string
  private readonly numTargets: number
  private readonly budget: number
  private readonly sorted: boolean
  private readonly buffers: Array<TargetBuffer> = []
  private readonly createdDir: boolean

  private buffered = 0
  private bufferedBytes = 0
  /** The buffers are sorted and combined and nothing was added since. */
  private compacted = false

  private seen = 0
  private sampledBytes = 0
  private samples = 0
  private encodedPerRecord = 64
  private memoryPerRecord = 64 * MEMORY_PER_ENCODED_BYTE + BYTES_PER_SLOT

  private readonly runs: Array<ManifestRun> = []
  private readonly runFiles: Array<string> = []
  private readonly itemsPerTarget: Array<number>
  private items = 0
  private bytes = 0
  private openWriter: BlockWriter | undefined
  private state: "open" | "finished" | "aborted" = "open"
  private output: ScatterOutput | undefined

  constructor(private readonly options: ScatterOptions) {
    const { numTargets, memoryBudgetBytes } = options
    if (!Number.isInteger(numTargets) || numTargets < 1) throw new RangeError(`numTargets must be an integer >= 1, got ${numTargets}`)
    if (Number.isNaN(memoryBudgetBytes) || memoryBudgetBytes <= 0) throw new RangeError(`memoryBudgetBytes must be > 0, got ${memoryBudgetBytes}`)
    this.dir = options.dir
    this.numTargets = numTargets
    this.budget = memoryBudgetBytes
    this.sorted = options.sortBy !== undefined
    this.itemsPerTarget = new Array<number>(numTargets).fill(0)
    for (let t = 0; t < numTargets; t++) this.buffers.push(new TargetBuffer())
    this.createdDir = fs.mkdirSync(this.dir, { recursive: true }) !== undefined
  }

  /** Buffers items, writing a run when the buffer passes the memory budget. */
  add(items: ReadonlyArray<unknown>): void {
    this.ensureOpen()
    if (items.length === 0) return
    const keyOf = this.options.key
    const sortBy = this.options.sortBy
    const n = this.numTargets
    const buffers = this.buffers
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      let key = keyOf(item)
      let kind: number
      switch (typeof key) {
        case "string": kind = STRINGS; break
        case "number": kind = key === key ? NUMBERS : MIXED; break
        case "undefined": key = null; kind = MIXED; break
        default: KeyOrder.check(key); kind = MIXED
      }
      let sortKey: unknown = null
      if (sortBy !== undefined) {
        sortKey = sortBy(item)
        if (sortKey === undefined) sortKey = null
      }
      const t = n === 1 ? 0 : KeyOrder.target(key, n)
      const b = buffers[t]!
      b.keys.push(key)
      b.items.push(item)
      if (sortBy !== undefined) b.sorts.push(sortKey)
      if (b.kind !== kind) b.kind = b.kind === EMPTY ? kind : MIXED
      if (this.seen < SAMPLE_FIRST || this.seen % SAMPLE_EVERY === 0) this.sample(key, sortKey, item)
      this.seen++
      this.compacted = false
      this.buffered++
      this.bufferedBytes += this.memoryPerRecord
      if (this.bufferedBytes >= this.budget) this.overflow()
    }
  }

  /** Writes what is buffered, publishes the manifest (temp + rename) and returns it. */
  finish(): ScatterOutput {
    if (this.state === "finished") return this.output!
    this.ensureOpen()
    try {
      if (this.buffered > 0) {
        if (this.options.combiner !== undefined) {
          if (!this.compacted) this.compact()
          if (this.buffered > 0) this.writeRun(true)
        } else this.writeRun(false)
      }
      const manifest = uniqueName(this.dir, "manifest", ".json")
      const doc: Manifest = {
        format: FORMAT,
        numTargets: this.numTargets,
        sorted: this.sorted,
        items: this.items,
        bytes: this.bytes,
        itemsPerTarget: this.itemsPerTarget,
        runs: this.runs
      }
      writeManifest(manifest, doc)
      const counters = this.options.counters
      if (counters !== undefined) {
        counters.increment("zephyr/shuffle_bytes_written", this.bytes)
        counters.increment("zephyr/shuffle_runs", this.runs.length)
        counters.increment("zephyr/shuffle_items_out", this.items)
      }
      this.state = "finished"
      this.output = { manifest, itemsPerTarget: this.itemsPerTarget.slice(), bytes: this.bytes }
      return this.output
    } catch (e) {
      this.abort()
      throw e
    }
  }

  /** Removes the run files of an unfinished writer (a finished writer's output is kept). */
  abort(): void {
    if (this.state !== "open") return
    this.state = "aborted"
    this.openWriter?.abort()
    this.openWriter = undefined
    for (const f of this.runFiles) fs.rmSync(f, { force: true })
    for (const b of this.buffers) b.clear()
    if (this.createdDir) {
      try { fs.rmdirSync(this.dir) } catch { /* not empty: someone else's files */ }
    }
  }

  /** Runs written so far (for tests and diagnostics). */
  get runCount(): number { return this.runs.length }

  private ensureOpen(): void {
    if (this.state !== "open") throw new Error(`ScatterWriter for ${this.dir} is ${this.state}`)
  }

  private sample(key: unknown, sortKey: unknown, item: unknown): void {
    let bytes = encode(item).length + 2
    bytes += typeof key === "string" ? key.length + 3 : encode(key).length
    if (this.sorted) bytes += encode(sortKey).length
    this.sampledBytes += bytes
    this.samples++
    this.encodedPerRecord = this.sampledBytes / this.samples
    this.memoryPerRecord = this.encodedPerRecord * MEMORY_PER_ENCODED_BYTE + BYTES_PER_SLOT
  }

  private overflow(): void {
    if (this.options.combiner !== undefined) {
      this.compact()
      if (this.bufferedBytes <= this.budget / 2 || this.buffered === 0) return
      this.writeRun(true)
    } else this.writeRun(false)
  }

  /** Indices of a buffer's records in (key, sortKey, arrival) order. */
  private order(b: TargetBuffer): Array<number> {
    const n = b.keys.length
    const idx: Array<number> = []
    for (let i = 0; i < n; i++) idx.push(i)
    const keys = b.keys
    const primitive = b.kind === STRINGS || b.kind === NUMBERS
    if (!this.sorted) {
      if (primitive) {
        const ks = keys as Array<string>
        idx.sort((i, j) => { const x = ks[i]!, y = ks[j]!; return x < y ? -1 : x > y ? 1 : i - j })
      } else idx.sort((i, j) => KeyOrder.compare(keys[i], keys[j]) || i - j)
    } else {
      const sorts = b.sorts
      const compare = KeyOrder.compare
      if (primitive) {
        const ks = keys as Array<string>
        idx.sort((i, j) => { const x = ks[i]!, y = ks[j]!; return x < y ? -1 : x > y ? 1 : compare(sorts[i], sorts[j]) || i - j })
      } else idx.sort((i, j) => compare(keys[i], keys[j]) || compare(sorts[i], sorts[j]) || i - j)
    }
    return idx
  }

  /** Sorts every target's buffer and replaces each key group by the combiner's output. */
  private compact(): void {
    const combiner = this.options.combiner!
    const sortBy = this.options.sortBy
    let total = 0
    for (const b of this.buffers) {
      const n = b.keys.length
      if (n === 0) continue
      const idx = this.order(b)
      const primitive = b.kind === STRINGS || b.kind === NUMBERS
      const keys = b.keys, items = b.items
      const outKeys: Array<unknown> = [], outItems: Array<unknown> = [], outSorts: Array<unknown> = []
      for (let g = 0; g < n;) {
        const key = keys[idx[g]!]
        let e = g + 1
        while (e < n && sameKey(primitive, keys[idx[e]!], key)) e++
        const group: Array<unknown> = new Array(e - g)
        for (let j = g; j < e; j++) group[j - g] = items[idx[j]!]
        const start = outItems.length
        for (const out of combiner(key, group)) {
          outKeys.push(key)
          outItems.push(out)
          if (sortBy !== undefined) {
            const s = sortBy(out)
            outSorts.push(s === undefined ? null : s)
          }
        }
        if (sortBy !== undefined && outItems.length - start > 1) sortSlice(outItems, outSorts, start, outItems.length)
        g = e
      }
      b.keys = outKeys
      b.items = outItems
      b.sorts = outSorts
      total += outItems.length
    }
    this.buffered = total
    this.bufferedBytes = total * this.memoryPerRecord
    this.compacted = true
  }

  /** Writes all buffers as one run file (a sorted segment per non-empty target). */
  private writeRun(presorted: boolean): void {
    const file = uniqueName(this.dir, `run-${String(this.runs.length).padStart(5, "0")}`, ".zrun")
    const writer = new BlockWriter(file)
    this.openWriter = writer
    const segments: Array<ManifestSegment> = []
    let maxBlock = 0
    let count = 0
    try {
      const enc = new RunEncoder(writer, this.sorted, this.encodedPerRecord)
      for (let t = 0; t < this.numTargets; t++) {
        const b = this.buffers[t]!
        const n = b.items.length
        if (n === 0) continue
        const idx = presorted ? undefined : this.order(b)
        const primitive = b.kind === STRINGS || b.kind === NUMBERS
        const keys = b.keys, items = b.items, sorts = b.sorts
        const offset = writer.byteCount
        let prev: unknown = null
        for (let j = 0; j < n; j++) {
          const i = idx === undefined ? j : idx[j]!
          const key = keys[i]
          const same = j > 0 && sameKey(primitive, key, prev)
          if (!same) prev = key
          enc.add(key, this.sorted ? sorts[i] : null, items[i], same)
        }
        enc.endSegment()
        segments.push([t, offset, writer.byteCount - offset, n])
        count += n
      }
      maxBlock = enc.maxBlock
    } catch (e) {
      writer.abort()
      this.openWriter = undefined
      throw e
    }
    const written = writer.close()
    this.openWriter = undefined
    this.runFiles.push(file)
    this.runs.push({ file: path.basename(file), bytes: written.bytes, maxBlock, segments })
    for (const [t, , , n] of segments) this.itemsPerTarget[t] = this.itemsPerTarget[t]! + n
    this.items += count
    this.bytes += written.bytes
    for (const b of this.buffers) if (b.items.length > 0) b.clear()
    this.buffered = 0
    this.bufferedBytes = 0
    this.compacted = false
  }
}

/** Stable sort of items[from, to) by their sort keys (a combiner's output for one group). */
const sortSlice = (items: Array<unknown>, sorts: Array<unknown>, from: number, to: number): void => {
  const idx: Array<number> = []
  for (let i = from; i < to; i++) idx.push(i)
  idx.sort((i, j) => KeyOrder.compare(sorts[i], sorts[j]) || i - j)
  const its = idx.map((i) => items[i]), ss = idx.map((i) => sorts[i])
  for (let i = from; i < to; i++) { items[i] = its[i - from]; sorts[i] = ss[i - from] }
}
