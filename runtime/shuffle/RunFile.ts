import * as fs from "node:fs"
import * as AtomicWrite from "../storage/AtomicWrite.ts"
import { type BlockWriter, read } from "../storage/BlockFile.ts"
import { StorageError } from "../storage/StorageError.ts"
import * as StoragePath from "../storage/StoragePath.ts"
import * as AnyArray from "../AnyArray.ts"

/**
 * The on-disk format of shuffle runs and of the manifest (sidecar) that describes them.
 *
 * A run file is a BlockFile. For each target shard with data it holds a contiguous segment
 * of blocks whose records are sorted by (key, sortKey) with `KeyOrder.compare`. Inside a
 * block, records are run-length encoded by key in one flat msgpack array, so a key is
 * stored once per block and decoding allocates no per-record arrays:
 *
 *     [key, n, item × n, key, n, item × n, ...]                 (no sortBy)
 *     [key, n, (sortKey, item) × n, ...]                        (with sortBy)
 *
 * (The BlockFile header's item count is therefore the flat array's length, not the record
 * count; the manifest carries the record counts.) A block never straddles two targets.
 */

export const FORMAT = "zephyr-shuffle/1"

/** Blocks are cut near this many encoded bytes, so a reader holds one such block per input. */
export const BLOCK_TARGET_BYTES = 128 * 1024

/** One segment as a reader sees it: a byte range of a run (or spill) file. */
export interface Segment {
  readonly file: string
  readonly offset: number
  readonly length: number
  readonly count: number
  /** Largest encoded block in the file (bounds the reader's memory per open segment). */
  readonly maxBlock: number
  readonly sorted: boolean
}

/** `[target, offset, length, count]` */
export type ManifestSegment = readonly [target: number, offset: number, length: number, count: number]

export interface ManifestRun {
  /** File name relative to the manifest's directory. */
  readonly file: string
  readonly bytes: number
  readonly maxBlock: number
  /** Non-empty targets only, in target order. */
  readonly segments: ReadonlyArray<ManifestSegment>
}

export interface Manifest {
  readonly format: typeof FORMAT
  readonly numTargets: number
  /** Whether records carry a sort key (the mapper had a sortBy). */
  readonly sorted: boolean
  readonly items: number
  readonly bytes: number
  readonly itemsPerTarget: ReadonlyArray<number>
  readonly runs: ReadonlyArray<ManifestRun>
}

/**
 * Writes the manifest under a temporary name and renames it into place. Not flushed to
 * disk (one per task would cost): a resumed run that finds it lost reruns the stage.
 */
export const writeManifest = (file: string, manifest: Manifest): void => AtomicWrite.writeFileSync(file, JSON.stringify(manifest), { durable: false })

export const readManifest = (file: string): Manifest => parseManifest(fs.readFileSync(file, "utf8"), file)

export const parseManifest = (text: string, file: string): Manifest => {
  const m = JSON.parse(text) as Manifest
  if (m === null || typeof m !== "object" || m.format !== FORMAT || !Array.isArray(m.runs)) {
    throw new StorageError(`Not a ${FORMAT} shuffle manifest: ${file}`)
  }
  return m
}

/** The non-empty segments of `target` listed by one manifest, in run order. */
export const segmentsOf = (manifestFile: string, manifest: Manifest, target: number): Array<Segment> => {
  if (!Number.isInteger(target) || target < 0 || target >= manifest.numTargets) {
    throw new RangeError(`Shuffle target ${target} out of range: ${manifestFile} has ${manifest.numTargets} targets`)
  }
  // Run files are named relative to their manifest, in a local directory or under a URL.
  const dir = StoragePath.dirname(manifestFile)
  const out: Array<Segment> = []
  for (const run of manifest.runs) {
    for (const [t, offset, length, count] of run.segments) {
      if (t === target) {
        if (count > 0) out.push({ file: StoragePath.join(dir, run.file), offset, length, count, maxBlock: run.maxBlock, sorted: manifest.sorted })
        break
      }
      if (t > target) break
    }
  }
  return out
}

/**
 * Appends records, already in (key, sortKey) order, to a BlockWriter as run-length encoded
 * blocks. `sameKey` tells whether a record's key equals (compare === 0) the previous one's.
 * Block sizes are estimated from a per-record byte guess that is corrected by the real
 * size of every block written; the first block is cut after CALIBRATION records so that a
 * bad guess cannot make it huge.
 */
const CALIBRATION = 64

export class RunEncoder {
  private flat: Array<unknown> = AnyArray.empty()
  private runAt = -1
  private estimate = 0
  private blockRecords = 0
  private perRecord: number
  private recordsOut = 0
  private bytesOut = 0
  maxBlock = 0

  constructor(private readonly writer: BlockWriter, private readonly sorted: boolean, bytesPerRecordGuess: number) {
    this.perRecord = Math.max(1, bytesPerRecordGuess)
  }

  add(key: unknown, sortKey: unknown, item: unknown, sameKey: boolean): void {
    const flat = this.flat
    if (!sameKey || this.runAt < 0) {
      flat.push(key, 0)
      this.runAt = flat.length - 1
    }
    ;(flat[this.runAt] as number)++
    if (this.sorted) flat.push(sortKey)
    flat.push(item)
    this.estimate += this.perRecord
    this.blockRecords++
    if (this.estimate >= BLOCK_TARGET_BYTES || (this.recordsOut === 0 && this.blockRecords >= CALIBRATION)) this.flushBlock()
  }

  /** Ends the current segment: the next record starts a new block. */
  endSegment(): void {
    this.flushBlock()
  }

  private flushBlock(): void {
    const flat = this.flat
    if (flat.length === 0) return
    const records = this.blockRecords
    const before = this.writer.byteCount
    this.writer.write(flat)
    const size = this.writer.byteCount - before
    if (size > this.maxBlock) this.maxBlock = size
    this.bytesOut += size
    this.recordsOut += records
    this.perRecord = Math.max(1, this.bytesOut / this.recordsOut)
    this.flat = AnyArray.empty()
    this.runAt = -1
    this.estimate = 0
    this.blockRecords = 0
  }
}

/**
 * Reads the records of one segment in order. After `advance()` returns true, `key`,
 * `sortKey` (null without sortBy) and `item` describe the current record. The file is
 * opened on the first `advance()` and closed when the segment ends or on `close()`.
 */
export class SegmentCursor {
  key: unknown = null
  sortKey: unknown = null
  item: unknown = undefined
  private blocks: Generator<Array<unknown>> | undefined
  private flat: Array<unknown> = AnyArray.empty()
  private pos = 0
  private left = 0
  private finished = false

  constructor(readonly segment: Segment, readonly index: number) {}

  advance(): boolean {
    if (this.left > 0) {
      this.left--
      const flat = this.flat
      if (this.segment.sorted) this.sortKey = flat[this.pos++]
      this.item = flat[this.pos++]
      return true
    }
    while (this.pos >= this.flat.length) {
      if (this.finished) return false
      if (this.blocks === undefined) this.blocks = read(this.segment.file, { offset: this.segment.offset, length: this.segment.length })
      const r = this.blocks.next()
      if (r.done === true) {
        this.finished = true
        this.blocks = undefined
        this.flat = AnyArray.empty()
        this.pos = 0
        return false
      }
      this.flat = r.value
      this.pos = 0
    }
    const flat = this.flat
    this.key = flat[this.pos++]
    this.left = (flat[this.pos++] as number) - 1
    if (this.segment.sorted) this.sortKey = flat[this.pos++]
    this.item = flat[this.pos++]
    return true
  }

  close(): void {
    this.finished = true
    const blocks = this.blocks
    this.blocks = undefined
    this.flat = AnyArray.empty()
    this.pos = 0
    this.left = 0
    this.item = undefined
    if (blocks !== undefined) blocks.return(undefined)
  }
}
