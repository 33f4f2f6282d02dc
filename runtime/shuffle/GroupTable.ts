import * as SpareTables from "./SpareTables.ts"

/** Tables kept between a process's scatters (SpareTables), up to 2^18 slots (about 5 MB). */
const spares = SpareTables.make(() => new GroupTable<unknown>(), 2 ** 18)

/** A table for a new scatter: the one the last scatter of this process released, emptied, if there is one. */
export const make = <G>(): GroupTable<G> => spares.take() as GroupTable<G>

/**
 * An open-addressing hash table from keys to groups, keyed by the shuffle's own 32-bit key
 * hash (computed anyway to route the item). A JS Map re-hashes every fresh string key
 * (words cut out of a line are sliced strings, and hashing those is slow: ~1.3 s for 2.2
 * M lookups against ~0.3 s here, measured on this machine).
 *
 * Primitive keys compare with `===`; arrays, objects, dates and bytes by their canonical
 * text, flagged so a string key never meets a canonical text. NaN goes the canonical way.
 */
export class GroupTable<G> {
  private mask = 255
  private hashes = new Int32Array(256)
  private keys: Array<unknown> = new Array(256)
  private complex = new Uint8Array(256)
  private groups: Array<G | undefined> = new Array(256)
  private filled = 0

  get size(): number { return this.filled }
  /** Slots, filled or not: the table doubles when half of them are. */
  get capacity(): number { return this.mask + 1 }

  /** The group of `key`, or undefined (then `insert` it). */
  find(hash: number, key: unknown, isComplex: boolean): G | undefined {
    const h = hash | 0
    const c = isComplex ? 1 : 0
    let i = h & this.mask
    while (true) {
      const g = this.groups[i]
      if (g === undefined) return undefined
      if (this.hashes[i] === h && this.complex[i] === c && this.keys[i] === key) return g
      i = (i + 1) & this.mask
    }
  }

  /** Adds a group for a key `find` did not find. */
  insert(hash: number, key: unknown, isComplex: boolean, group: G): void {
    const h = hash | 0
    let i = h & this.mask
    while (this.groups[i] !== undefined) i = (i + 1) & this.mask
    this.hashes[i] = h
    this.keys[i] = key
    this.complex[i] = isComplex ? 1 : 0
    this.groups[i] = group
    if (++this.filled * 2 > this.mask) this.grow()
  }

  values(): Array<G> {
    const out: Array<G> = []
    for (const g of this.groups) if (g !== undefined) out.push(g)
    return out
  }

  /** Empties the table, keeping its size (a scatter that spilled fills it again). */
  clear(): void {
    if (this.filled === 0) return
    this.keys.fill(undefined)
    this.groups.fill(undefined)
    this.filled = 0
  }

  /** Hands the table, emptied, to the next scatter of this process (`make`); its owner no longer uses it. */
  release(): void {
    spares.give(this as GroupTable<unknown>)
  }

  private grow(): void {
    const { hashes, keys, complex, groups } = this
    const size = (this.mask + 1) * 2
    this.mask = size - 1
    this.hashes = new Int32Array(size)
    this.keys = new Array(size)
    this.complex = new Uint8Array(size)
    this.groups = new Array(size)
    for (let j = 0; j < groups.length; j++) {
      const g = groups[j]
      if (g === undefined) continue
      let i = hashes[j]! & this.mask
      while (this.groups[i] !== undefined) i = (i + 1) & this.mask
      this.hashes[i] = hashes[j]!
      this.keys[i] = keys[j]
      this.complex[i] = complex[j]!
      this.groups[i] = g
    }
  }
}
