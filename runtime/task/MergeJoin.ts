import * as KeyOrder from "../shuffle/KeyOrder.ts"
import { CHUNK_ITEMS, type Chunk, type Transducer } from "./ChunkStream.ts"

const NONE: Chunk = []

export class JoinOrderError extends Error {}

/**
 * The sorted merge join of one shard: left items stream through; the right side is read
 * alongside, one key group at a time. Both sides must be sorted by key (KeyOrder); a key
 * going backwards on either side is an error rather than a silently wrong join.
 */
export const mergeJoin = (options: {
  readonly right: Iterator<unknown>
  readonly leftKey: (l: unknown) => unknown
  readonly rightKey: (r: unknown) => unknown
  readonly combiner: (l: unknown, r: unknown) => unknown
  readonly how: "inner" | "left"
  readonly where: string
}) => (): Transducer => {
  const { right, leftKey, rightKey, combiner, how } = options
  let rNext: unknown
  let rKey: unknown
  let rDone = false
  let rStarted = false
  let group: Array<unknown> = []
  let groupKey: unknown
  let hasGroup = false
  let prevLeft: unknown
  let hasPrevLeft = false

  const advance = () => {
    const r = right.next()
    if (r.done) { rDone = true; return }
    const k = rightKey(r.value) ?? null
    if (rStarted && KeyOrder.compare(k, rKey) < 0) {
      throw new JoinOrderError(`The right side of sortedMergeJoin is not sorted by key (${JSON.stringify(k)} after ${JSON.stringify(rKey)}) in ${options.where}; group or sort both sides by the join key first.`)
    }
    rStarted = true
    rNext = r.value
    rKey = k
  }

  let input: Chunk = NONE
  let i = 0
  /** The left item whose matches are being emitted, and the next match's index in `group`. */
  let left: unknown
  let j = 0
  let expanding = false

  /** Emits the current left item's matches into `out` until they end (false) or `out` is full (true). */
  const expand = (out: Array<unknown>): boolean => {
    while (j < group.length) {
      out.push(combiner(left, group[j++]))
      if (out.length >= CHUNK_ITEMS) return true
    }
    expanding = false
    return false
  }

  const fill = (): Chunk => {
    const out: Array<unknown> = []
    if (expanding && expand(out)) return out
    while (i < input.length) {
      const l = input[i++]
      const lk = leftKey(l) ?? null
      if (hasPrevLeft && KeyOrder.compare(lk, prevLeft) < 0) {
        throw new JoinOrderError(`The left side of sortedMergeJoin is not sorted by key (${JSON.stringify(lk)} after ${JSON.stringify(prevLeft)}) in ${options.where}; group or sort both sides by the join key first.`)
      }
      prevLeft = lk
      hasPrevLeft = true
      if (!hasGroup || KeyOrder.compare(groupKey, lk) !== 0) {
        while (!rDone && KeyOrder.compare(rKey, lk) < 0) advance()
        group = []
        groupKey = lk
        hasGroup = true
        while (!rDone && KeyOrder.compare(rKey, lk) === 0) { group.push(rNext); advance() }
      }
      if (group.length > 0) {
        left = l
        j = 0
        expanding = true
        if (expand(out)) return out
      } else if (how === "left") out.push(combiner(l, null))
      if (out.length >= CHUNK_ITEMS) return out
    }
    input = NONE
    return out
  }

  // A key's matches are the product of its groups on both sides: they are emitted a chunk
  // at a time, so a hot key does not materialise its whole product.
  return {
    push(chunk: Chunk): Chunk {
      if (!rStarted && !rDone) advance()
      input = chunk
      i = 0
      return fill()
    },
    get pending() { return expanding || i < input.length },
    more: fill,
    end: () => NONE,
    close() {
      input = NONE
      expanding = false
      right.return?.()
    }
  }
}
