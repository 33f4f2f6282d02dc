import { describe, expect, it } from "vitest"
import * as GroupTables from "../../../runtime/shuffle/GroupTable.ts"
import { GroupTable } from "../../../runtime/shuffle/GroupTable.ts"
import * as KeyOrder from "../../../runtime/shuffle/KeyOrder.ts"

interface Group { readonly key: string; readonly items: Array<number> }

const fill = (t: GroupTable<Group>, prefix: string, n: number) => {
  for (let i = 0; i < n; i++) t.insert(KeyOrder.hash(`${prefix}${i}`), `${prefix}${i}`, false, { key: `${prefix}${i}`, items: [i] })
}
const find = (t: GroupTable<Group>, key: string) => t.find(KeyOrder.hash(key), key, false)

describe("GroupTable", () => {
  it("finds every group after growing, and keeps its size when emptied", () => {
    const t = new GroupTable<Group>()
    fill(t, "k", 5_000)
    expect(find(t, "k4999")).toEqual({ key: "k4999", items: [4999] })
    expect(find(t, "k5000")).toBeUndefined()
    const grown = t.capacity
    t.clear()
    expect([t.size, t.capacity, t.values()]).toEqual([0, grown, []])
    expect(find(t, "k1")).toBeUndefined()
    fill(t, "k", 3)
    expect(t.values().map((g) => g.key).sort()).toEqual(["k0", "k1", "k2"])
  })

  it("hands the next scatter of the process the table the last one released, emptied, at its size; none above 2^18 slots", () => {
    GroupTables.make() // whatever an earlier test left
    const first = GroupTables.make<Group>()
    fill(first, "k", 5_000)
    const grown = first.capacity
    first.release()
    const next = GroupTables.make<Group>()
    expect(next).toBe(first)
    expect([next.size, next.capacity, next.values()]).toEqual([0, grown, []])
    expect(GroupTables.make<Group>().capacity).toBe(256)
    const huge = GroupTables.make<Group>()
    fill(huge, "h", 140_000)
    expect(huge.capacity).toBe(2 ** 19)
    huge.release()
    expect(GroupTables.make<Group>()).not.toBe(huge)
  })
})
