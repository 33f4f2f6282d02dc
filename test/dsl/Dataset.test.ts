import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { col, Dataset, Zephyr, ZephyrBuildError } from "zephyr"

describe("Dataset", () => {
  it("is immutable: every method returns a new dataset", () => {
    const a = Dataset.fromList([1, 2, 3])
    const b = a.map((n) => n + 1)
    expect(b).not.toBe(a)
    expect(a.steps).toHaveLength(1)
    expect(b.steps).toHaveLength(2)
  })

  it("is not a thenable, so awaiting a dataset gives the dataset", async () => {
    const ds = Dataset.fromList([1])
    expect(await ds).toBe(ds)
  })

  it("copies the source list, so later mutation does not change the plan", () => {
    const items = [1, 2]
    const ds = Dataset.fromList(items)
    items.push(3)
    expect(Zephyr.compile(ds).stages[0]!.shards.in).toBe(2)
  })

  it("records the user's file, line and column for every call", () => {
    const ds = Dataset.fromList([1, 2]) // @source-line
      .map((n) => n * 2)
      .filter(col("x").gt(1))
    const first = fs.readFileSync("test/dsl/Dataset.test.ts", "utf8").split("\n").findIndex((l) => l.includes("// @source-line")) + 1
    const plan = Zephyr.compile(ds)
    const stage = plan.stages[0]!
    expect(stage.input.kind === "source" && stage.input.source.source).toMatchObject({ file: "test/dsl/Dataset.test.ts", line: first })
    expect(stage.ops.map((o) => o.source.line)).toEqual([first + 1, first + 2])
    expect(stage.ops[0]!.source.column).toBeGreaterThan(0)
  })

  describe("rejects invalid arguments at build time, naming the call and the line", () => {
    const cases: Array<[string, () => unknown, RegExp]> = [
      ["reshard(0)", () => Dataset.fromList([1]).reshard(0), /must be positive/],
      ["reshard(-2)", () => Dataset.fromList([1]).reshard(-2), /must be positive/],
      ["reshard(1.5)", () => Dataset.fromList([1]).reshard(1.5), /must be an integer/],
      ["takePerShard(-1)", () => Dataset.fromList([1]).takePerShard(-1), /must be zero or more/],
      ["window(0)", () => Dataset.fromList([1]).window(0), /must be positive/],
      ["groupBy numOutputShards 0", () => Dataset.fromList([1]).groupBy(String, () => 1, { numOutputShards: 0 }), /must be positive/],
      ["deduplicate numOutputShards 0", () => Dataset.fromList([1]).deduplicate(String, { numOutputShards: 0 }), /must be positive/],
      ["mapEffect concurrency 0", () => Dataset.fromList([1]).mapEffect(() => null as any, { concurrency: 0 }), /must be positive/],
      ["map(non-function)", () => Dataset.fromList([1]).map(42 as any), /must be a function/],
      ["join how", () => Dataset.fromList([{ k: 1 }]).sortedMergeJoin(Dataset.fromList([{ k: 1 }]), { leftKey: (l) => l.k, rightKey: (r) => r.k, how: "outer" as any }), /only supports "inner" and "left"/],
      ["empty pattern", () => Dataset.fromList(["a"]).writeJsonl(""), /output pattern/],
      ["fromList(non-array)", () => Dataset.fromList("abc" as any), /expects an array/],
      ["select()", () => Dataset.fromList([{ a: 1 }]).select(), /at least one column/]
    ]
    for (const [name, build, message] of cases) {
      it(name, () => {
        let error: unknown
        try { build() } catch (e) { error = e }
        expect(error).toBeInstanceOf(ZephyrBuildError)
        expect((error as Error).message).toMatch(message)
        expect((error as ZephyrBuildError).file).toBe("test/dsl/Dataset.test.ts")
        expect((error as Error).message).toContain("test/dsl/Dataset.test.ts:")
      })
    }
  })

  it("fromIterable materialises", () => {
    function* gen() { yield 1; yield 2 }
    expect(Zephyr.compile(Dataset.fromIterable(gen())).stages[0]!.shards.in).toBe(2)
  })

  it("does not check data-dependent things at build time", () => {
    expect(() => Dataset.fromFiles("no/such/*.txt")).not.toThrow()
    expect(() => Dataset.fromList([1, 2]).writeJsonl("out/no-placeholder.jsonl")).not.toThrow()
  })
})
