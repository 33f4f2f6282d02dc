import { describe, expect, it } from "vitest"
import { Dataset } from "zephyr"
import { finalize, type StageCall, type StageCode } from "../../../compiler/passes/finalize.ts"
import { fuse } from "../../../compiler/passes/fuse.ts"
import { lower } from "../../../compiler/passes/lower.ts"
import { partition } from "../../../compiler/passes/partition.ts"
import { pushdown } from "../../../compiler/passes/pushdown.ts"
import { validate } from "../../../compiler/passes/validate.ts"

const id = <T>(x: T) => x
const first = <T>(_k: unknown, xs: Iterable<T>): T => xs[Symbol.iterator]().next().value as T
const byK = (r: { k: number }) => r.k

/** Stage i's code hash is `code-i`, or what `changed` says for it. */
const codes = (changed: Readonly<Record<number, string>> = {}): StageCode => (stages) => stages.map((_, i) => changed[i] ?? `code-${i}`)

const planOf = (ds: Dataset<any, any, any>, stageCode: StageCode = codes()) => {
  const lowered = lower(validate(ds))
  return finalize(partition(pushdown(fuse(lowered))), lowered.implementations, {}, stageCode)
}

const prints = (ds: Dataset<any, any, any>, stageCode?: StageCode) => planOf(ds, stageCode).stages.map((s) => s.fingerprint)

/** The stages whose fingerprint differs between two lists of the same length. */
const changed = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => {
  expect(b).toHaveLength(a.length)
  return b.flatMap((p, i) => (p === a[i] ? [] : [i]))
}

// Stages: 0 map + groupBy scatter, 1 groupBy reduce + map, 2 reshard (coordinator), 3 map.
const linear = () => Dataset.fromList([1, 2, 3]).map((n) => ({ k: n % 2, n })).groupBy(byK, first, { numOutputShards: 2 }).map(id).reshard(1).map(id)

// Stages: 0 the left side's map and scatter, 1 and 2 the right side, 3 the left reduce, the join and a map.
const joined = (left: (ds: Dataset<{ k: number }, never, never>) => Dataset<{ k: number }, never, never> = id) =>
  left(Dataset.fromList([{ k: 1 }, { k: 2 }]))
    .map(id)
    .groupBy(byK, first, { numOutputShards: 2 })
    .sortedMergeJoin(Dataset.fromList([{ k: 1 }]).map(id).groupBy(byK, first, { numOutputShards: 2 }), { leftKey: byK, rightKey: byK })
    .map(id)

describe("finalize: stage fingerprints", () => {
  it("gives every stage a fingerprint of its own, the same for the same plan and code", () => {
    const a = prints(linear())
    expect(a).toHaveLength(4)
    for (const p of a) expect(p).toMatch(/^[0-9a-f]{16}$/)
    expect(new Set(a).size).toBe(4)
    expect(prints(linear())).toEqual(a)
  })

  it("chains each stage with the stages it reads: a change to a stage's code changes it and every stage after it, never one before", () => {
    const base = prints(linear())
    expect(changed(base, prints(linear(), codes({ 0: "new" })))).toEqual([0, 1, 2, 3])
    expect(changed(base, prints(linear(), codes({ 1: "new" })))).toEqual([1, 2, 3])
    expect(changed(base, prints(linear(), codes({ 2: "new" })))).toEqual([2, 3])
    expect(changed(base, prints(linear(), codes({ 3: "new" })))).toEqual([3])
    // The plan's fingerprint, which workers prove at Register, stays apart: the stages' code hashes do not enter it.
    expect(planOf(linear(), codes({ 0: "new", 3: "new" })).fingerprint).toBe(planOf(linear()).fingerprint)
  })

  it("follows a join: a change to its right side changes the right side and the joining stage, not the left side", () => {
    const base = prints(joined())
    expect(planOf(joined()).stages.map((s) => s.kind)).toEqual(["map", "join-right", "join-right", "reduce"])
    expect(changed(base, prints(joined(), codes({ 1: "new" })))).toEqual([1, 2, 3])
    expect(changed(base, prints(joined(), codes({ 2: "new" })))).toEqual([2, 3])
    expect(changed(base, prints(joined(), codes({ 0: "new" })))).toEqual([0, 3])
  })

  it("covers the data and parameters baked into a stage, and the stages after it", () => {
    const base = prints(linear())
    const withItems = Dataset.fromList([1, 2, 4]).map((n) => ({ k: n % 2, n })).groupBy(byK, first, { numOutputShards: 2 }).map(id).reshard(1).map(id)
    expect(changed(base, prints(withItems))).toEqual([0, 1, 2, 3])
    const resharded = Dataset.fromList([1, 2, 3]).map((n) => ({ k: n % 2, n })).groupBy(byK, first, { numOutputShards: 2 }).map(id).reshard(2).map(id)
    expect(changed(base, prints(resharded))).toEqual([2, 3])
  })

  it("leaves out op ids and stage ids: an op added to the left side of a join shifts the right side's ids, not its fingerprints", () => {
    const base = planOf(joined())
    const added = planOf(joined((ds) => ds.filter(Boolean)))
    expect(added.stages[1]!.ops[0]!.id).not.toBe(base.stages[1]!.ops[0]!.id)
    expect(changed(base.stages.map((s) => s.fingerprint), added.stages.map((s) => s.fingerprint))).toEqual([0, 3])
  })

  it("asks for the code of each stage's calls: the source in the first stage, a groupBy's key function in its scatter stage and its reducer in its reduce stage, a reduce's global reducer not in its local stage", () => {
    let asked: ReadonlyArray<ReadonlyArray<StageCall>> = []
    planOf(linear(), (stages) => {
      asked = stages
      return codes()(stages)
    })
    expect(asked.map((calls) => calls.map((c) => [c.id, c.skip]))).toEqual([
      [["o0", []], ["o1", []], ["o2", [1]]],
      [["o2", [0]], ["o3", []]],
      [["o4", []]],
      [["o5", []]]
    ])
    expect(asked[0]![0]!.source.file).toContain("finalize.test.ts")
    const sum = (xs: Iterable<number>) => [...xs].reduce((a, b) => a + b, 0)
    planOf(Dataset.fromList([1, 2]).reduce(sum, sum), (stages) => {
      asked = stages
      return codes()(stages)
    })
    // A reduce: its local reducer in its local stage; both in its global stage (the local one is the default global one).
    expect(asked.map((calls) => calls.map((c) => [c.id, c.skip]))).toEqual([[["o0", []], ["o1", [1]]], [["o1", []]], [["o1", []]]])
  })
})
