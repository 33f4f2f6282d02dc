import { describe, expect, it } from "vitest"
import * as SpareTables from "../../../runtime/shuffle/SpareTables.ts"

class FakeTable {
  cleared = 0
  constructor(readonly capacity: number) {}
  clear(): void { this.cleared++ }
}

describe("SpareTables", () => {
  it("takes a new table until one is given back; gives it back emptied, once", () => {
    let created = 0
    const spares = SpareTables.make(() => new FakeTable(256 * ++created), 1024)
    const a = spares.take()
    expect(a.capacity).toBe(256)
    spares.give(a)
    expect(a.cleared).toBe(1)
    expect(spares.take()).toBe(a)
    expect(spares.take().capacity).toBe(512) // the kept one was taken
  })

  it("keeps the larger of two, and none above the limit", () => {
    const spares = SpareTables.make(() => new FakeTable(1), 1024)
    const small = new FakeTable(256), large = new FakeTable(1024), huge = new FakeTable(2048)
    spares.give(large)
    spares.give(small)
    spares.give(huge)
    expect(huge.cleared).toBe(1) // emptied all the same: its owner is done with it
    expect(spares.take()).toBe(large)
    expect(spares.take().capacity).toBe(1)
  })
})
