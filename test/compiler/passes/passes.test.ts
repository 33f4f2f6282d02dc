import { describe, expect, it } from "vitest"
import { col, Dataset, Zephyr, type Plan } from "zephyr"
import { fuse } from "../../../compiler/passes/fuse.ts"
import { lower } from "../../../compiler/passes/lower.ts"
import { partition } from "../../../compiler/passes/partition.ts"
import { pushdown } from "../../../compiler/passes/pushdown.ts"
import { validate } from "../../../compiler/passes/validate.ts"

const shape = (ds: Dataset<any, any, any>) =>
  Zephyr.compile(ds).stages.map((s) => ({
    kind: s.kind,
    ops: s.ops.map((o) => ("role" in o ? `${o.kind}:${o.role}` : o.kind)),
    reason: s.boundary.reason,
    shards: [s.shards.in, s.shards.out]
  }))

const id = <T>(x: T) => x
const first = <T>(_k: unknown, xs: Iterable<T>): T => xs[Symbol.iterator]().next().value as T

describe("validate", () => {
  it("rejects something that is not a dataset", () => {
    expect(() => validate({} as any)).toThrow(/Expected a Dataset/)
  })
  it("accepts a chain that starts with a source", () => {
    expect(validate(Dataset.fromList([1]).map(id) as any)).toHaveLength(2)
  })
})

describe("lower", () => {
  it("gives ops stable ids in build order and keeps user functions by id", () => {
    const double = (n: number) => n * 2
    const lowered = lower(Dataset.fromList([1, 2]).map(double).filter(Boolean).steps)
    expect(lowered.pipeline.source.id).toBe("o0")
    expect(lowered.pipeline.ops.map((o) => [o.op.id, o.op.kind, o.op.name])).toEqual([["o1", "map", "double"], ["o2", "filter", "Boolean"]])
    expect(lowered.implementations.get("o1")).toEqual({ kind: "fn", fn: double })
    expect(lowered.implementations.get("o0")).toEqual({ kind: "list", items: [1, 2] })
  })
  it("lowers a join's right side recursively where the join appears", () => {
    const right = Dataset.fromList([{ k: 1 }])
    const lowered = lower(Dataset.fromList([{ k: 1 }]).map(id).sortedMergeJoin(right, { leftKey: (l) => l.k, rightKey: (r) => r.k }).steps)
    const join = lowered.pipeline.ops[1]!
    expect(join.t).toBe("join")
    if (join.t === "join") expect(join.right.source.id).toBe("o3")
  })
})

describe("fuse", () => {
  it("every maximal run of element-wise ops is one stage", () => {
    const ds = Dataset.fromList([1, 2, 3]).map(id).filter(Boolean).flatMap((n) => [n]).mapShard((xs) => xs).takePerShard(2).window(2).windowBy((s: number) => [true, s] as const, 0).select("length")
    expect(shape(ds)).toEqual([{ kind: "map", ops: ["map", "filter", "flatMap", "mapShard", "takePerShard", "window", "windowBy", "select"], reason: "end", shards: [3, 3] }])
  })
  it("groupBy ends a stage with its scatter and the next starts with its reduce", () => {
    const ds = Dataset.fromList([1, 2, 3]).map(id).groupBy(String, first, { numOutputShards: 5 }).map(id)
    expect(shape(ds)).toEqual([
      { kind: "map", ops: ["map", "groupBy:scatter"], reason: "shuffle", shards: [3, 5] },
      { kind: "reduce", ops: ["groupBy:reduce", "map"], reason: "end", shards: [5, 5] }
    ])
  })
  it("groupBy without numOutputShards keeps the input shard count", () => {
    expect(shape(Dataset.fromList([1, 2, 3, 4]).groupBy(String, first))[0]!.shards).toEqual([4, 4])
  })
  it("deduplicate is a shuffle too", () => {
    expect(shape(Dataset.fromList([1, 1]).deduplicate(String)).map((s) => s.ops)).toEqual([["deduplicate:scatter"], ["deduplicate:reduce"]])
  })
  it("count becomes fold → reshard to 1 → fold", () => {
    expect(shape(Dataset.fromList([1, 2, 3]).map(id).count())).toEqual([
      { kind: "map", ops: ["map", "count:local"], reason: "fold", shards: [3, 3] },
      { kind: "reshard", ops: ["count:reshard"], reason: "reshard", shards: [3, 1] },
      { kind: "fold", ops: ["count:global"], reason: "end", shards: [1, 1] }
    ])
  })
  it("reduce followed by more ops keeps them in the fold stage", () => {
    expect(shape(Dataset.fromList([1, 2]).reduce((xs) => [...xs].length).map(id)).at(-1)).toEqual({ kind: "fold", ops: ["reduce:global", "map"], reason: "end", shards: [1, 1] })
  })
  it("reshard is a stage of its own, between two map stages", () => {
    expect(shape(Dataset.fromList([1, 2, 3]).map(id).reshard(8).map(id))).toEqual([
      { kind: "map", ops: ["map"], reason: "reshard", shards: [3, 3] },
      { kind: "reshard", ops: ["reshard"], reason: "reshard", shards: [3, 8] },
      { kind: "map", ops: ["map"], reason: "end", shards: [8, 8] }
    ])
  })
  it("a trailing reshard is the output stage", () => {
    expect(shape(Dataset.fromList([1, 2, 3]).reshard(2)).map((s) => [s.kind, s.reason])).toEqual([["map", "reshard"], ["reshard", "end"]])
  })
  it("reshard(undefined) is a no-op", () => {
    const ds = Dataset.fromList([1])
    expect(ds.reshard(undefined)).toBe(ds)
  })
  it("a join plans its right side first and adds no boundary of its own", () => {
    const right = Dataset.fromList([{ k: 1 }]).groupBy((r) => r.k, first, { numOutputShards: 2 })
    const ds = Dataset.fromList([{ k: 1 }]).groupBy((r) => r.k, first, { numOutputShards: 2 }).sortedMergeJoin(right, { leftKey: (l) => l.k, rightKey: (r) => r.k }).map(id)
    const plan = Zephyr.compile(ds)
    expect(plan.stages.map((s) => s.kind)).toEqual(["map", "join-right", "join-right", "reduce"])
    const joinStage = plan.stages[3]!
    expect(joinStage.ops.map((o) => o.kind)).toEqual(["groupBy", "sortedMergeJoin", "map"])
    const join = joinStage.ops[1] as Plan.Op.OfKind<"sortedMergeJoin">
    expect(join.rightStage).toBe(2)
    expect(plan.stages[2]!.boundary.reason).toBe("join")
    expect(plan.stages[2]!.joinedBy).toBe(3)
  })
  it("a join's right side made of a bare source still gets a stage", () => {
    const ds = Dataset.fromList([{ k: 1 }]).sortedMergeJoin(Dataset.fromList([{ k: 1 }]), { leftKey: (l) => l.k, rightKey: (r) => r.k })
    expect(shape(ds)).toEqual([
      { kind: "join-right", ops: [], reason: "join", shards: [1, 1] },
      { kind: "map", ops: ["sortedMergeJoin"], reason: "end", shards: [1, 1] }
    ])
  })
  it("a write closes its stage", () => {
    expect(shape(Dataset.fromList(["a"]).writeText("out/x-{shard}.txt").map((p) => p.length))).toEqual([
      { kind: "map", ops: ["write"], reason: "end", shards: [1, 1] },
      { kind: "map", ops: ["map"], reason: "end", shards: [1, 1] }
    ])
  })
  it("an empty list gives zero shards everywhere", () => {
    expect(shape(Dataset.fromList([]).groupBy(String, first)).map((s) => s.shards)).toEqual([[0, 0], [0, 0]])
  })
})

describe("pushdown", () => {
  const loadOf = (ds: Dataset<any, any, any>) => Zephyr.compile(ds).stages[0]!.ops[0] as Plan.Op.OfKind<"loadParquet" | "loadJsonl">
  it("pushes a col filter and a select right after a load into the reader", () => {
    const load = loadOf(Dataset.readParquet("nothing/*.parquet").filter(col("a").gt(1)).select("b", "c"))
    expect(load.filter).toEqual({ op: "gt", left: { op: "col", path: ["a"] }, right: { op: "lit", value: 1 } })
    expect(load.columns).toEqual(["b", "c", "a"])
  })
  it("keeps the pushed ops in the stage, marked", () => {
    const ops = Zephyr.compile(Dataset.readJsonl("x/*.jsonl").filter(col("a").eq(1)).map(id)).stages[0]!.ops
    expect(ops.map((o) => o.kind)).toEqual(["loadJsonl", "filter", "map"])
    expect((ops[1] as Plan.Op.OfKind<"filter">).pushedInto).toBe("o1")
  })
  it("stops at a function filter: it may read columns a projection would drop", () => {
    const load = loadOf(Dataset.readParquet("x/*.parquet").filter((r) => r.a > 1).select("b"))
    expect(load.columns).toBeNull()
    expect(load.filter).toBeNull()
  })
  it("does not push a filter on a column an earlier select dropped", () => {
    const load = loadOf(Dataset.readParquet("x/*.parquet").select("b").filter(col("a").gt(1)))
    expect(load.columns).toEqual(["b"])
    expect(load.filter).toBeNull()
  })
  it("does nothing when the stage does not start with a load", () => {
    const fused = fuse(lower(Dataset.fromList([{ a: 1 }]).filter(col("a").gt(0)).steps))
    expect(pushdown(fused)).toEqual(fused)
  })
})

describe("partition", () => {
  it("counts file sources with the given counter and leaves them unknown otherwise", () => {
    const fused = fuse(lower(Dataset.readText("x/*.txt").groupBy(String, first, { numOutputShards: 3 }).steps))
    expect(partition(fused).map((s) => s.shards)).toEqual([{ in: null, out: 3 }, { in: 3, out: 3 }])
    expect(partition(fused, () => 7).map((s) => s.shards)).toEqual([{ in: 7, out: 3 }, { in: 3, out: 3 }])
    const unknown = fuse(lower(Dataset.readText("x/*.txt").groupBy(String, first).steps))
    expect(partition(unknown).map((s) => s.shards)).toEqual([{ in: null, out: null }, { in: null, out: null }])
  })
})

describe("finalize", () => {
  it("fingerprints the structure: same pipeline, same print; any change, another", () => {
    const build = (n: number) => Dataset.fromList([1, 2, 3]).map(id).groupBy(String, first, { numOutputShards: n })
    expect(Zephyr.compile(build(2)).fingerprint).toBe(Zephyr.compile(build(2)).fingerprint)
    expect(Zephyr.compile(build(2)).fingerprint).not.toBe(Zephyr.compile(build(3)).fingerprint)
    expect(Zephyr.compile(Dataset.fromList([1, 2])).fingerprint).not.toBe(Zephyr.compile(Dataset.fromList([1, 3])).fingerprint)
  })
  it("names why every stage ends", () => {
    const plan = Zephyr.compile(Dataset.fromList([1]).groupBy(function byValue(n: number) { return n }, first, { numOutputShards: 64 }).writeJsonl("o/{shard}.jsonl"))
    expect(plan.stages.map((s) => s.boundary.detail)).toEqual(["shuffle: groupBy(byValue) → 64 shards", "end: write jsonl"])
  })
})
