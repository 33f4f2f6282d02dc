import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import * as CombineSums from "../../compiler/CombineSums.ts"
import type * as Op from "../../plan/Op.ts"

interface Count { readonly word: string; readonly count: number }
const words = () => Dataset.fromList<Count>([{ word: "a", count: 1 }, { word: "b", count: 2 }, { word: "a", count: 3 }])
const byWord = (c: Count) => c.word
const sum = (word: string, cs: Iterable<Count>): Count => {
  let count = 0
  for (const c of cs) count += c.count
  return { word, count }
}
const partial = (word: string, cs: Iterable<Count>) => [sum(word, cs)]

// What the analysis would say of each op's combiner: it only sums `count`.
const sums = (op: Op.Op): ReadonlyArray<string> | undefined => (op.kind === "groupBy" ? ["count"] : undefined)

describe("CombineSums.infer: the scatters whose combiner only sums", () => {
  it("lists a combining groupBy's scatter, by op id", () => {
    const plan = Zephyr.compile(words().groupBy(byWord, sum, { combiner: partial }))
    const scatter = plan.stages[0]!.ops.find((op) => op.kind === "groupBy")!
    expect(CombineSums.infer(plan.plan, sums)).toEqual({ [scatter.id]: ["count"] })
  })

  it("leaves out a groupBy with no combiner, one with sortBy, and a combiner the analysis says more of", () => {
    expect(CombineSums.infer(Zephyr.compile(words().groupBy(byWord, sum)).plan, sums)).toEqual({})
    expect(CombineSums.infer(Zephyr.compile(words().groupBy(byWord, sum, { combiner: partial, sortBy: (c) => c.count })).plan, sums)).toEqual({})
    expect(CombineSums.infer(Zephyr.compile(words().groupBy(byWord, sum, { combiner: partial })).plan, () => undefined)).toEqual({})
  })
})

describe("CombineSums.apply", () => {
  it("marks the listed scatters, keeps the fingerprint, and explain says so", () => {
    const plan = Zephyr.compile(words().groupBy(byWord, sum, { combiner: partial }))
    const scatter = plan.stages[0]!.ops.find((op) => op.kind === "groupBy")!
    const applied = plan.withCombineSums({ [scatter.id]: ["count"] })
    expect(applied.fingerprint).toBe(plan.fingerprint)
    expect(applied.stages.map((s) => s.fingerprint)).toEqual(plan.stages.map((s) => s.fingerprint))
    expect(applied.stages[0]!.ops.find((op) => op.id === scatter.id)).toMatchObject({ role: "scatter", combinerSums: ["count"] })
    expect(applied.combineSums).toEqual({ [scatter.id]: ["count"] })
    expect(applied.explain("text")).toContain("combiner partial (sums count in place)")
    // The reduce side of the same groupBy, and the plan it came from, are unchanged.
    expect(applied.stages[1]!.ops.find((op) => op.kind === "groupBy")).not.toHaveProperty("combinerSums")
    expect(plan.stages[0]!.ops.find((op) => op.id === scatter.id)).not.toHaveProperty("combinerSums")
  })

  it("leaves alone ids that are not combining scatters", () => {
    const plan = Zephyr.compile(words().map((c) => c).groupBy(byWord, sum))
    const ids = plan.stages.flatMap((s) => s.ops.map((op) => op.id))
    expect(CombineSums.apply(plan.plan, Object.fromEntries(ids.map((id) => [id, ["count"]]))).stages).toEqual(plan.plan.stages)
  })

  it("runs in process calling the combiner once per key, with the result of calling it for every item", async () => {
    let calls = 0
    const counted = (word: string, cs: Iterable<Count>) => {
      calls++
      return [sum(word, cs)]
    }
    // One list item, one shard: its flatMap gives the scatter 300 items of 3 words.
    const many = Dataset.fromList([300]).flatMap((n): Array<Count> => Array.from({ length: n }, (_, i) => ({ word: `w${i % 3}`, count: i })))
    const plan = Zephyr.compile(many.groupBy(byWord, sum, { combiner: counted, numOutputShards: 2 }))
    const scatter = plan.stages[0]!.ops.find((op) => op.kind === "groupBy")!
    const byWordOrder = (xs: ReadonlyArray<Count>) => [...xs].sort((a, b) => a.word.localeCompare(b.word))
    const every = await Zephyr.run(plan, { backend: "in-process" })
    const perItem = calls
    calls = 0
    const summed = await Zephyr.run(plan.withCombineSums({ [scatter.id]: ["count"] }), { backend: "in-process" })
    expect(byWordOrder(summed.results)).toEqual(byWordOrder(every.results))
    expect(byWordOrder(summed.results).map((c) => c.count)).toEqual([0, 1, 2].map((k) => Array.from({ length: 100 }, (_, i) => 3 * i + k).reduce((a, b) => a + b, 0)))
    // One call per key at the flush, against one per item but each key's first.
    expect(calls).toBe(3)
    expect(perItem).toBe(300 - 3)
  })
})
