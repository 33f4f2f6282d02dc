/**
 * The hash tables of a process's scatters, passed from one scatter to the next. A table grows
 * by doubling from 256 slots, and every new column is fresh memory the system must map in: in
 * a dedup of 105 MB (85k keys a shard) allocating the columns took 0.6 s of the map stage's
 * 7.1 s, spent again by every task. A scatter that is done releases its tables, emptied, and
 * the next one takes them at the size they grew to. One table of a kind is kept, the larger,
 * and none above `maxSlots` (memory held between tasks).
 */
export interface Table {
  /** Slots, filled or not. */
  readonly capacity: number
  /** Empties the table, keeping its size. */
  clear(): void
}

export interface SpareTables<T extends Table> {
  /** The kept table, emptied, or a new one. */
  readonly take: () => T
  /** Keeps `table` (emptied here) for the next `take`, if it is the larger and not too large; its owner no longer uses it. */
  readonly give: (table: T) => void
}

export const make = <T extends Table>(create: () => T, maxSlots: number): SpareTables<T> => {
  let spare: T | undefined
  return {
    take: () => {
      const table = spare ?? create()
      spare = undefined
      return table
    },
    give: (table) => {
      table.clear()
      if (table.capacity <= maxSlots && (spare === undefined || spare.capacity < table.capacity)) spare = table
    }
  }
}
