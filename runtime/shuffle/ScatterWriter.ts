import * as fs from "node:fs"
import * as path from "node:path"
import type { CounterSet } from "../task/CounterSet.ts"
import { BlockWriter, encode, uniqueName } from "../storage/BlockFile.ts"
import * as Directory from "../storage/Directory.ts"
import * as GroupTable from "./GroupTable.ts"
import * as KeyOrder from "./KeyOrder.ts"
import * as PartialTable from "./PartialTable.ts"
import { FORMAT, type Manifest, type ManifestRun, type ManifestSegment, RunEncoder, writeManifest } from "./RunFile.ts"
import * as AnyArray from "../AnyArray.ts"

export interface ScatterOptions {
  readonly dir: string            // a directory unique to this task attempt (create it if missing)
  readonly numTargets: number     // number of reduce shards R (>= 1)
  readonly key: (item: unknown) => unknown
  readonly sortBy: ((item: unknown) => unknown) | undefined       // secondary order inside a group
  readonly combiner: ((key: unknown, items: Iterable<unknown>) => Iterable<unknown>) | undefined
  /** Fields the combiner only sums (CombineSums): a key's are added up in place, and the combiner runs once per key and flush. */
  readonly sums?: ReadonlyArray<string> | undefined
  readonly memoryBudgetBytes: number   // flush a sorted run to disk before the buffer grows past about this
  readonly counters?: CounterSet | undefined   // add "zephyr/shuffle_bytes_written", "zephyr/shuffle_runs", "zephyr/shuffle_items_out"
}

export interface ScatterOutput {
  readonly manifest: string            // path of a small sidecar file describing all run files and per-target segments
  readonly itemsPerTarget: ReadonlyArray<number>
  readonly bytes: number
  /** The manifest's runs and whether records carry a sort key (what the mapper reports: SegmentIndex). */
  readonly runs: ReadonlyArray<ManifestRun>
  readonly sorted: boolean
}

/**
 * In-memory cost of a buffered record relative to its msgpack size: decoded JS objects,
 * strings and the buffer slots take about 2-3× their encoded bytes (measured ~3× for
 * small objects with a short string key and a 70-char string field).
 */
export const MEMORY_PER_ENCODED_BYTE = 2.5
const BYTES_PER_SLOT = 32
/** Sizes of the first records are all measured, then one record in SAMPLE_EVERY. */
const SAMPLE_FIRST = 32
const SAMPLE_EVERY = 128

/** Key kinds of a target's buffer: all strings and all (non-NaN) numbers sort with `<`. */
const EMPTY = 0, STRINGS = 1, NUMBERS = 2, MIXED = 3
/** Map overhead of one key group, added to the memory estimate. */
const BYTES_PER_GROUP = 96
/** With a combiner, a group is combined when it reaches this many items (then twice its combined size). */
const COMBINE_AT = 16

/** The buffered items of one key, in arrival order (plus their sort keys with sortBy). */
interface Group {
  readonly key: unknown
  readonly target: number
  items: Array<unknown>
  sorts: Array<unknown>
  combineAt: number
  /** Items arrived since the combiner last ran on this group. */
  dirty: boolean
}

/**
 * The map side of a shuffle. Items are routed to `KeyOrder.target(key, numTargets)` and
 * buffered in groups by key (a hash table; arrival order inside a group). With a combiner
 * and no `sortBy`, each arrival is combined at once with its key's partial (PartialTable);
 * with both, a group is combined whenever it doubles, so a hot key holds a few partials. When the
 * estimated buffer size passes the memory budget, every group with new items is combined;
 * if that leaves more than half the budget (or there is no combiner) the groups are
 * written, in key order per target and by (sortKey, arrival) inside a group, as one run
 * file with a contiguous sorted segment per non-empty target. `finish` combines and
 * writes what is left, then publishes the manifest.
 */
export class ScatterWriter {
  private readonly dir: string
  private readonly numTargets: number
  private readonly budget: number
  private readonly sorted: boolean
  /** Buffered items grouped by key: a hash lookup per item instead of sorting every item. */
  private readonly table = GroupTable.make<Group>()
  /** With a combiner and no sortBy: one partial per key instead of groups. */
  private readonly partials: PartialTable.PartialTable<Group> | undefined
  /** The fields the combiner only sums, which `partials` adds up in place (no `__proto__`: an object literal cannot hold it). */
  private readonly sumFields: ReadonlyArray<string> | undefined
  /** The two items a pairwise combine hands the combiner (reused: the call may not keep it). */
  private readonly pair: Array<unknown> = [undefined, undefined]
  /** Per target: whether all keys are strings, all numbers, or mixed (strings and numbers sort with `<`). */
  private kinds: Array<number>
  private counts: Array<number>
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

  private readonly runs: Array<ManifestRun> = AnyArray.empty()
  private readonly runFiles: Array<string> = AnyArray.empty()
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
    const sums = options.sums
    this.sumFields = sums !== undefined && sums.length > 0 && !sums.includes("__proto__") ? sums : undefined
    this.partials = options.combiner !== undefined && !this.sorted ? PartialTable.make(this.sumFields?.length ?? 0) : undefined
    this.itemsPerTarget = new Array<number>(numTargets).fill(0)
    this.kinds = new Array<number>(numTargets).fill(EMPTY)
    this.counts = new Array<number>(numTargets).fill(0)
    this.createdDir = Directory.make(this.dir) !== undefined
  }

  /** Buffers items, writing a run when the buffer passes the memory budget. */
  add(items: ReadonlyArray<unknown>): void {
    this.ensureOpen()
    if (items.length === 0) return
    const keyOf = this.options.key
    const sortBy = this.options.sortBy
    const combiner = this.options.combiner
    const n = this.numTargets
    const partials = this.partials
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      let key = keyOf(item)
      let kind: number
      let hash: number
      let tableKey: unknown = key
      let complex = false
      if (typeof key === "string") {
        kind = STRINGS
        hash = KeyOrder.hash(key)
      } else {
        if (key === undefined) key = null
        else KeyOrder.check(key)
        kind = typeof key === "number" && key === key ? NUMBERS : MIXED
        const text = KeyOrder.canonical(key)
        hash = KeyOrder.hashCanonical(text)
        // Primitives (but NaN) compare with ===; everything else by its canonical text.
        complex = key !== null && (typeof key === "object" || key !== key)
        if (complex) tableKey = text
      }
      let sortKey: unknown = null
      if (sortBy !== undefined) {
        sortKey = sortBy(item)
        if (sortKey === undefined) sortKey = null
      }
      const target = KeyOrder.targetOf(hash, n)
      const k = this.kinds[target]!
      if (k !== kind) this.kinds[target] = k === EMPTY ? kind : MIXED
      if (this.seen < SAMPLE_FIRST || this.seen % SAMPLE_EVERY === 0) this.sample(key, sortKey, item)
      this.seen++
      this.compacted = false
      if (partials !== undefined) {
        this.addPartial(partials, hash, tableKey, complex, key, target, item)
        if (this.bufferedBytes >= this.budget) this.overflow()
        continue
      }
      let g = this.table.find(hash, tableKey, complex)
      if (g === undefined) {
        g = { key, target, items: [], sorts: [], combineAt: COMBINE_AT, dirty: true }
        this.table.insert(hash, tableKey, complex, g)
        this.bufferedBytes += BYTES_PER_GROUP
      }
      g.items.push(item)
      g.dirty = true
      if (sortBy !== undefined) g.sorts.push(sortKey)
      this.counts[target]!++
      this.buffered++
      this.bufferedBytes += this.memoryPerRecord
      if (combiner !== undefined && g.items.length >= g.combineAt) this.combineGroup(g)
      if (this.bufferedBytes >= this.budget) this.overflow()
    }
  }

  /** Folds `item` into its key's partial (or list), or makes it the partial of a new key. */
  private addPartial(partials: PartialTable.PartialTable<Group>, hash: number, tableKey: unknown, complex: boolean, key: unknown, target: number, item: unknown): void {
    const slot = partials.find(hash, tableKey, complex)
    if (slot < 0) {
      partials.insert(hash, tableKey, complex, key, item)
      this.counts[target]!++
      this.buffered++
      this.bufferedBytes += this.memoryPerRecord + BYTES_PER_GROUP
      return
    }
    if (partials.isList(slot)) {
      const g = partials.list(slot)
      g.items.push(item)
      g.dirty = true
      this.counts[target]!++
      this.buffered++
      this.bufferedBytes += this.memoryPerRecord
      if (g.items.length >= g.combineAt) this.combineGroup(g)
      return
    }
    if (this.sumFields !== undefined && this.addToSums(partials, slot, item)) return
    const pair = this.pair
    pair[0] = partials.partial(slot)
    pair[1] = item
    this.combineInto(partials, slot, target, pair)
    pair[0] = pair[1] = undefined
  }

  /**
   * Adds `item`'s summed fields to its key's sums, starting them from its partial: what the
   * combiner would make of the two, without calling it. False when a value is not a number
   * (a string would be concatenated, a bigint throw): the key then goes back to a partial
   * item, and the combiner takes this item.
   */
  private addToSums(partials: PartialTable.PartialTable<Group>, slot: number, item: unknown): boolean {
    const fields = this.sumFields!
    const row = item as Record<string, unknown>
    if (partials.isSums(slot)) {
      if (!allNumbers(row, fields)) {
        this.materialize(partials, slot)
        return false
      }
      for (let j = 0; j < fields.length; j++) partials.addSum(slot, j, row[fields[j]!] as number)
      return true
    }
    const partial = partials.partial(slot) as Record<string, unknown>
    if (!allNumbers(partial, fields) || !allNumbers(row, fields)) return false
    partials.startSums(slot)
    for (let j = 0; j < fields.length; j++) partials.setSum(slot, j, (partial[fields[j]!] as number) + (row[fields[j]!] as number))
    return true
  }

  /**
   * A key's sums back as its partial: the combiner's output for one item holding them, which
   * is what it would have made of all the items (it only sums those fields, and keeps the key).
   */
  private materialize(partials: PartialTable.PartialTable<Group>, slot: number): void {
    const fields = this.sumFields!
    const sums: Record<string, unknown> = {}
    for (let j = 0; j < fields.length; j++) sums[fields[j]!] = partials.sum(slot, j)
    partials.setPartial(slot, undefined)
    this.combineInto(partials, slot, KeyOrder.targetOf(partials.hash(slot), this.numTargets), [sums])
  }

  /** Combines a key's lone item that has not met the combiner yet (at a flush, as with a group). */
  private combineLone(partials: PartialTable.PartialTable<Group>, slot: number, target: number): void {
    this.combineInto(partials, slot, target, [partials.partial(slot)])
  }

  /** Runs the combiner on a slot's `items`: one item out becomes its partial, others its group (`absorb` copies them). */
  private combineInto(partials: PartialTable.PartialTable<Group>, slot: number, target: number, items: Array<unknown>): void {
    const out = this.options.combiner!(partials.userKey(slot), items)
    const combined = Array.isArray(out) ? out : Array.from(out)
    if (combined.length === 1) partials.setPartial(slot, combined[0])
    else this.absorb(partials, slot, target, combined)
  }

  /**
   * A combiner returned other than one item for a key: from now on the key keeps a group
   * (combined whenever it doubles). The key had one buffered item; now it has `combined`.
   */
  private absorb(partials: PartialTable.PartialTable<Group>, slot: number, target: number, combined: Array<unknown>): void {
    const items = combined.slice()
    partials.toList(slot, { key: partials.userKey(slot), target, items, sorts: [], combineAt: Math.max(COMBINE_AT, 2 * items.length), dirty: false })
    const delta = combined.length - 1
    this.counts[target]! += delta
    this.buffered += delta
    this.bufferedBytes += delta * this.memoryPerRecord
  }

  /** Writes what is buffered, publishes the manifest (temp + rename) and returns it. */
  finish(): ScatterOutput {
    if (this.state === "finished") return this.output!
    this.ensureOpen()
    try {
      if (this.buffered > 0) {
        if (this.options.combiner !== undefined && !this.compacted) this.compact()
        if (this.buffered > 0) this.writeRun()
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
      this.output = { manifest, itemsPerTarget: this.itemsPerTarget.slice(), bytes: this.bytes, runs: this.runs.slice(), sorted: this.sorted }
      this.releaseTables()
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
    this.clearBuffers()
    this.releaseTables()
    if (this.createdDir) {
      try { fs.rmdirSync(this.dir) } catch { /* not empty: someone else's files */ }
    }
  }

  /** The next scatter of the process gets the tables, at the size they grew to (a writer that is done never adds again). */
  private releaseTables(): void {
    this.table.release()
    this.partials?.release()
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
      this.writeRun()
    } else this.writeRun()
  }

  /** Replaces a group's items by the combiner's output (the group's key is kept). */
  private combineGroup(g: Group): void {
    const before = g.items.length
    const out = Array.from(this.options.combiner!(g.key, g.items))
    // Refill the group's own array: it already has the capacity, and no garbage is made.
    const items = g.items
    items.length = 0
    for (let i = 0; i < out.length; i++) items.push(out[i])
    const delta = out.length - before
    const sortBy = this.options.sortBy
    if (sortBy !== undefined) g.sorts = out.map((x) => { const s = sortBy(x); return s === undefined ? null : s })
    g.combineAt = Math.max(COMBINE_AT, 2 * out.length)
    g.dirty = false
    this.counts[g.target]! += delta
    this.buffered += delta
    this.bufferedBytes += delta * this.memoryPerRecord
  }

  /** Runs the combiner on every group that received items since it last ran (once per group and flush). */
  private compact(): void {
    const partials = this.partials
    if (partials !== undefined) {
      const n = this.numTargets
      partials.forEach((slot) => {
        if (partials.isList(slot)) {
          if (partials.list(slot).dirty) this.combineGroup(partials.list(slot))
        } else if (partials.isSums(slot)) this.materialize(partials, slot)
        else if (partials.isRaw(slot)) this.combineLone(partials, slot, KeyOrder.targetOf(partials.hash(slot), n))
      })
    }
    for (const g of this.table.values()) if (g.dirty) this.combineGroup(g)
    this.bufferedBytes = this.buffered * this.memoryPerRecord + (this.table.size + (partials?.size ?? 0)) * BYTES_PER_GROUP
    this.compacted = true
  }

  private clearBuffers(): void {
    this.table.clear()
    this.partials?.clear()
    this.kinds.fill(EMPTY)
    this.counts.fill(0)
  }

  /** Each target's groups in key order (KeyOrder.compare; `<` when all keys are strings or all numbers). */
  private ordered(): Array<Array<Group>> {
    const byTarget: Array<Array<Group>> = Array.from({ length: this.numTargets }, () => AnyArray.empty())
    for (const g of this.table.values()) byTarget[g.target]!.push(g)
    const partials = this.partials
    if (partials !== undefined) {
      const n = this.numTargets
      partials.forEach((slot) => {
        // A run is written after `compact`, which leaves no sums; this is for safety.
        if (partials.isSums(slot)) this.materialize(partials, slot)
        if (partials.isList(slot)) byTarget[partials.list(slot).target]!.push(partials.list(slot))
        else {
          const target = KeyOrder.targetOf(partials.hash(slot), n)
          byTarget[target]!.push({ key: partials.userKey(slot), target, items: [partials.partial(slot)], sorts: [], combineAt: 0, dirty: false })
        }
      })
    }
    for (let t = 0; t < this.numTargets; t++) {
      const groups = byTarget[t]!
      const kind = this.kinds[t]
      if (kind === STRINGS || kind === NUMBERS) groups.sort((a, b) => (a.key! < b.key! ? -1 : a.key! > b.key! ? 1 : 0))
      else groups.sort((a, b) => KeyOrder.compare(a.key, b.key))
    }
    return byTarget
  }

  /** Writes all buffers as one run file (a sorted segment per non-empty target). */
  private writeRun(): void {
    const file = uniqueName(this.dir, `run-${String(this.runs.length).padStart(5, "0")}`, ".zrun")
    const writer = new BlockWriter(file)
    this.openWriter = writer
    const segments: Array<ManifestSegment> = []
    let maxBlock = 0
    let count = 0
    try {
      const enc = new RunEncoder(writer, this.sorted, this.encodedPerRecord)
      const byTarget = this.ordered()
      for (let t = 0; t < this.numTargets; t++) {
        if (this.counts[t] === 0) continue
        const offset = writer.byteCount
        let n = 0
        for (const g of byTarget[t]!) {
          const items = g.items
          if (items.length === 0) continue
          if (this.sorted) {
            const sorts = g.sorts
            const idx = items.map((_, i) => i)
            if (items.length > 1) idx.sort((i, j) => KeyOrder.compare(sorts[i], sorts[j]) || i - j)
            for (let j = 0; j < idx.length; j++) enc.add(g.key, sorts[idx[j]!], items[idx[j]!], j > 0)
          } else {
            for (let j = 0; j < items.length; j++) enc.add(g.key, null, items[j], j > 0)
          }
          n += items.length
        }
        if (n === 0) continue
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
    this.clearBuffers()
    this.buffered = 0
    this.bufferedBytes = 0
    this.compacted = false
  }
}

/** Whether `row` is an object whose `fields` are all numbers. */
const allNumbers = (row: Record<string, unknown>, fields: ReadonlyArray<string>): boolean => {
  if (typeof row !== "object" || row === null) return false
  for (let j = 0; j < fields.length; j++) if (typeof row[fields[j]!] !== "number") return false
  return true
}
