import * as SpareTables from "./SpareTables.ts"

/**
 * The buffer of a combining scatter (a combiner and no `sortBy`): per key, the one partial
 * item its combiner has folded every arrival into so far, in flat arrays indexed by slot
 * (open addressing on the shuffle's 32-bit key hash, as GroupTable).
 *
 * Each arrival is combined at once with its key's partial (`combiner(key, [partial, item])`,
 * which the combiner's contract allows: it is associative and its output has the items'
 * type), so the buffer holds one live item per key. Buffering arrivals per key until a group
 * filled up kept up to 16 items per key alive across young-generation collections, which
 * copied and promoted them, and reached each partial through two more objects: in word
 * count a worker spent 5.6 s collecting garbage and 6.4 s in the buffer, and the map stage
 * took 13.8 s; it takes 4.5 s with this table.
 *
 * A slot whose combiner returned anything but one item holds a list instead (`lists[i]`),
 * combined when it doubles, as GroupTable's groups are. A key's lone item meets the
 * combiner at the next flush, as every buffered item did before.
 *
 * With a combiner that only sums fields (CombineSums), a slot holds those sums instead, as
 * numbers in a flat array (`width` per slot), and no partial item until the scatter turns
 * them back into one.
 */
const EMPTY = 0, PARTIAL = 1, LIST = 2, SUMS = 3

/** Tables kept between a process's scatters (SpareTables), up to 2^18 slots (about 10 MB, a shard of 130k keys). */
const spares = SpareTables.make(() => new PartialTable<unknown>(), 2 ** 18)

/**
 * A table for a new scatter, with `width` sums a slot (0: none): the one the last scatter of
 * this process released, emptied, if there is one.
 */
export const make = <L>(width = 0): PartialTable<L> => {
  const table = spares.take() as PartialTable<L>
  table.useSums(width)
  return table
}

export class PartialTable<L> {
  private mask = 0
  private hashes!: Int32Array
  private state!: Uint8Array
  private complex!: Uint8Array
  /** 1 while a slot's partial is its key's one item, which has not met the combiner. */
  private raw!: Uint8Array
  /** The key the table compares (a complex key's canonical text) and the user's key. */
  private keys!: Array<unknown>
  private userKeys!: Array<unknown>
  private partials!: Array<unknown>
  private lists!: Array<L | undefined>
  private width = 0
  private sums = new Float64Array(0)
  private filled = 0

  constructor() {
    this.allocate(256)
  }

  get size(): number { return this.filled }
  /** Slots, filled or not: the table doubles when half of them are. */
  get capacity(): number { return this.mask + 1 }

  /** The slot of `key`, or -1 (then `insert` it). */
  find(hash: number, key: unknown, isComplex: boolean): number {
    const h = hash | 0
    const c = isComplex ? 1 : 0
    let i = h & this.mask
    while (this.state[i] !== EMPTY) {
      if (this.hashes[i] === h && this.complex[i] === c && this.keys[i] === key) return i
      i = (i + 1) & this.mask
    }
    return -1
  }

  /** Adds a key `find` did not find, with its first item as its partial. */
  insert(hash: number, key: unknown, isComplex: boolean, userKey: unknown, item: unknown): void {
    const h = hash | 0
    let i = h & this.mask
    while (this.state[i] !== EMPTY) i = (i + 1) & this.mask
    this.hashes[i] = h
    this.state[i] = PARTIAL
    this.complex[i] = isComplex ? 1 : 0
    // A word cut out of a line is a slice that keeps the whole line alive, and comparing
    // against it reads the line: the table keeps a flat copy of a string key.
    this.keys[i] = typeof key === "string" ? flat(key) : key
    this.userKeys[i] = typeof userKey === "string" && !isComplex ? this.keys[i] : userKey
    this.partials[i] = item
    this.raw[i] = 1
    if (++this.filled * 2 > this.mask) this.grow()
  }

  isList(slot: number): boolean { return this.state[slot] === LIST }
  partial(slot: number): unknown { return this.partials[slot] }
  /** Sets a slot's partial: the combiner's output (in place of its sums, if it had them). */
  setPartial(slot: number, item: unknown): void {
    this.state[slot] = PARTIAL
    this.partials[slot] = item
    this.raw[slot] = 0
  }

  /** Makes every slot hold `width` sums when it is given them (`startSums`). */
  useSums(width: number): void {
    this.width = width
    if (this.sums.length < this.capacity * width) this.sums = new Float64Array(this.capacity * width)
  }
  isSums(slot: number): boolean { return this.state[slot] === SUMS }
  /** Puts sums in place of a slot's partial (then `setSum` each of them). */
  startSums(slot: number): void {
    this.state[slot] = SUMS
    this.partials[slot] = undefined
    this.raw[slot] = 0
  }
  sum(slot: number, j: number): number { return this.sums[slot * this.width + j]! }
  setSum(slot: number, j: number, value: number): void { this.sums[slot * this.width + j] = value }
  addSum(slot: number, j: number, value: number): void { this.sums[slot * this.width + j]! += value }
  isRaw(slot: number): boolean { return this.raw[slot] === 1 }
  list(slot: number): L { return this.lists[slot]! }
  userKey(slot: number): unknown { return this.userKeys[slot] }
  hash(slot: number): number { return this.hashes[slot]! >>> 0 }

  /** Puts a list in place of a slot's partial. */
  toList(slot: number, list: L): void {
    this.state[slot] = LIST
    this.partials[slot] = undefined
    this.lists[slot] = list
  }

  /** Calls `f` with each key's slot. */
  forEach(f: (slot: number) => void): void {
    for (let i = 0; i <= this.mask; i++) if (this.state[i] !== EMPTY) f(i)
  }

  /** Empties the table, keeping its size (a scatter that spilled fills it again). */
  clear(): void {
    if (this.filled === 0) return
    this.state.fill(EMPTY)
    // The columns of objects let go of what they held.
    this.keys.fill(undefined)
    this.userKeys.fill(undefined)
    this.partials.fill(undefined)
    this.lists.fill(undefined)
    this.filled = 0
  }

  /** Hands the table, emptied, to the next scatter of this process (`make`); its owner no longer uses it. */
  release(): void {
    spares.give(this as PartialTable<unknown>)
  }

  /** Empty columns of `size` slots. */
  private allocate(size: number): void {
    this.mask = size - 1
    this.hashes = new Int32Array(size)
    this.state = new Uint8Array(size)
    this.complex = new Uint8Array(size)
    this.raw = new Uint8Array(size)
    this.keys = new Array(size)
    this.userKeys = new Array(size)
    this.partials = new Array(size)
    this.lists = new Array(size)
    if (this.width > 0) this.sums = new Float64Array(size * this.width)
  }

  private grow(): void {
    const { hashes, state, complex, raw, keys, userKeys, partials, lists, sums, width } = this
    this.allocate((this.mask + 1) * 2)
    for (let j = 0; j < state.length; j++) {
      if (state[j] === EMPTY) continue
      let i = hashes[j]! & this.mask
      while (this.state[i] !== EMPTY) i = (i + 1) & this.mask
      this.hashes[i] = hashes[j]!
      this.state[i] = state[j]!
      this.complex[i] = complex[j]!
      this.raw[i] = raw[j]!
      this.keys[i] = keys[j]
      this.userKeys[i] = userKeys[j]
      this.partials[i] = partials[j]
      this.lists[i] = lists[j]
      for (let k = 0; k < width; k++) this.sums[i * width + k] = sums[j * width + k]!
    }
  }
}

/** A flat copy of a string (not a slice or a concatenation of others). */
const flat = (s: string): string => {
  if (s.length === 0) return s
  // Joining the characters anew makes a sequential string that owns them.
  return (" " + s).slice(1)
}
