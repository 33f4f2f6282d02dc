/**
 * The shards of a stage waiting for a worker, first come first served. A ring-free FIFO:
 * `shift` moves a head index (O(1)) instead of moving every element, and the consumed
 * prefix is dropped once it is half the array.
 */
export class ShardQueue {
  private items: Array<number>
  private head = 0

  constructor(items: ReadonlyArray<number> = []) {
    this.items = items.slice()
  }

  get length(): number { return this.items.length - this.head }

  push(index: number): void { this.items.push(index) }

  shift(): number | undefined {
    if (this.head >= this.items.length) return undefined
    const index = this.items[this.head++]!
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return index
  }

  toArray(): Array<number> { return this.items.slice(this.head) }
}
