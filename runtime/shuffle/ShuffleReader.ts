import type { CounterSet } from "../task/CounterSet.ts"
import { MergeHeap, reduceFanIn, SpillSpace } from "./ExternalMerge.ts"
import { compare } from "./KeyOrder.ts"
import { readManifest, type Segment, segmentsOf } from "./RunFile.ts"

export interface ShuffleReadOptions {
  /** For external-merge spill files (created if missing, on the first spill; what is created is removed). */
  readonly tmpDir: string | (() => string)
  readonly memoryBudgetBytes: number   // bounds how many segments are merged at once (fan-in); above it, merge in passes through spill files
  readonly counters?: CounterSet | undefined   // e.g. "zephyr/shuffle_merge_passes"
  /** Told once what the target holds: its items and their bytes in the run files. */
  readonly onInput?: ((items: number, bytes: number) => void) | undefined
}

/** The segments of `target` listed by `manifests`, in manifest then run order. */
export const segmentsFor = (manifests: ReadonlyArray<string>, target: number): { readonly segments: Array<Segment>; readonly sorted: boolean } => {
  const segments: Array<Segment> = []
  let sorted = false
  for (const file of manifests) {
    const m = readManifest(file)
    if (m.sorted) sorted = true
    for (const s of segmentsOf(file, m, target)) segments.push(s)
  }
  return { segments, sorted }
}

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined })

/** A single-pass view of one group, pulling from the merge while the key stays equal. */
class GroupItems implements IterableIterator<unknown> {
  private live = true

  constructor(private readonly heap: MergeHeap, private readonly key: unknown) {}

  next(): IteratorResult<unknown> {
    if (!this.live) return DONE
    const heap = this.heap
    if (heap.size === 0) { this.live = false; return DONE }
    const c = heap.top
    const k = c.key
    if (k !== this.key && compare(k, this.key) !== 0) { this.live = false; return DONE }
    const value = c.item
    heap.next()
    return { done: false, value }
  }

  /** Skips what the consumer left of the group; the group is over afterwards. */
  skipRest(): void {
    if (this.live) {
      const heap = this.heap, key = this.key
      while (heap.size > 0) {
        const k = heap.top.key
        if (k !== key && compare(k, key) !== 0) break
        heap.next()
      }
    }
    this.live = false
  }

  /** Ends the group without reading further (the merge is being closed). */
  end(): void { this.live = false }

  [Symbol.iterator](): IterableIterator<unknown> { return this }
}

/**
 * The groups of target shard `target`, in key order (KeyOrder.compare); inside a group items
 * come in sortBy order when the mappers had a sortBy. (The manifests are read at the call; the
 * merge's own generator is returned, not wrapped, so no group pays for a second generator.)
 */
export const groups = (manifests: ReadonlyArray<string>, target: number, options: ShuffleReadOptions): Generator<readonly [key: unknown, items: Iterable<unknown>]> => {
  const { segments, sorted } = segmentsFor(manifests, target)
  return merged(segments, sorted, options)
}

/** The groups of sorted segments, merged (for segments already found: fetched from object storage into local files). */
export function* merged(segments: ReadonlyArray<Segment>, sorted: boolean, options: ShuffleReadOptions): Generator<readonly [key: unknown, items: Iterable<unknown>]> {
  if (options.onInput) {
    let items = 0, bytes = 0
    for (const s of segments) { items += s.count; bytes += s.length }
    options.onInput(items, bytes)
  }
  if (segments.length === 0) return
  const counters = options.counters
  counters?.increment("zephyr/shuffle_segments_read", segments.length)
  const spill = new SpillSpace(options.tmpDir)
  try {
    const inputs = reduceFanIn(segments, options.memoryBudgetBytes, sorted, spill, counters)
    const heap = new MergeHeap(inputs, sorted)
    let current: GroupItems | undefined
    try {
      while (heap.size > 0) {
        const key = heap.top.key
        current = new GroupItems(heap, key)
        yield [key, current] as const
        current.skipRest()
        current = undefined
      }
    } finally {
      current?.end()
      heap.close()
    }
  } finally {
    spill.cleanup()
  }
}
