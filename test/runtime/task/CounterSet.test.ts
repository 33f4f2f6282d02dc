import { describe, expect, it } from "vitest"
import { CounterSet, merge, values } from "../../../runtime/task/CounterSet.ts"

describe("CounterSet", () => {
  it("a counter given another aggregation within a task keeps the first and records the other as a conflict", () => {
    const c = new CounterSet()
    c.update("n", 3, "max")
    c.update("n", 10, "sum")
    c.update("n", 5, "max")
    c.increment("n", 100)
    expect(c.snapshot()).toEqual({ n: { agg: "max", value: 5, count: 2, conflict: "sum" } })
    expect(c.value("n")).toBe(5)
  })

  it("merging keeps the first aggregation of a counter and returns each conflict", () => {
    const into = {}
    expect(merge(into, { a: { agg: "sum", value: 1, count: 1 }, b: { agg: "min", value: 4, count: 1 } })).toEqual([])
    expect(merge(into, { a: { agg: "max", value: 9, count: 1 }, b: { agg: "min", value: 2, count: 1 } })).toEqual([{ name: "a", kept: "sum", ignored: "max" }])
    expect(merge(into, { a: { agg: "sum", value: 2, count: 1, conflict: "avg" } })).toEqual([{ name: "a", kept: "sum", ignored: "avg" }])
    expect(values(into)).toEqual({ a: 3, b: 2 })
  })
})
