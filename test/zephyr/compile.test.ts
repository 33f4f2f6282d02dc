import * as fs from "node:fs"
import { Effect, Logger, LogLevel } from "effect"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { sortedJson } from "./helpers.ts"

const here = "test/zephyr/compile.test.ts"
const lineOf = (marker: string): number => fs.readFileSync(here, "utf8").split("\n").findIndex((l) => l.includes(marker)) + 1

const splitWords = (line: string) => line.split(" ").map((word) => ({ word, count: 1 }))
const byWord = (w: { word: string }) => w.word
const sumCounts = (word: string, items: Iterable<{ count: number }>) => {
  let count = 0
  for (const w of items) count += w.count
  return { word, count }
}

/** A fresh build of the same word-count pipeline every time it is called. */
const wordcount = (lines: ReadonlyArray<string>) =>
  Dataset.fromList(lines) // @wc-source
    .flatMap(splitWords) // @wc-flatMap
    .groupBy(byWord, sumCounts, { numOutputShards: 3 }) // @wc-groupBy

const lines = ["a b a", "b c", "a"]
const counts = [{ word: "a", count: 3 }, { word: "b", count: 2 }, { word: "c", count: 1 }]

describe("Zephyr.compile", () => {
  it("gives the stages, their ops and shard counts", () => {
    const plan = Zephyr.compile(wordcount(lines))
    expect(plan.stages.map((s) => ({ id: s.id, kind: s.kind, boundary: s.boundary.reason, shards: s.shards }))).toEqual([
      { id: 0, kind: "map", boundary: "shuffle", shards: { in: 3, out: 3 } },
      { id: 1, kind: "reduce", boundary: "end", shards: { in: 3, out: 3 } }
    ])
    expect(plan.stages[0]!.ops.map((o) => [o.kind, o.name, "role" in o ? o.role : undefined])).toEqual([
      ["flatMap", "splitWords", undefined], ["groupBy", "byWord", "scatter"]
    ])
    expect(plan.stages[1]!.ops.map((o) => [o.kind, "role" in o ? o.role : undefined])).toEqual([["groupBy", "reduce"]])
  })

  it("records where each DSL call is in the user's file", () => {
    const plan = Zephyr.compile(wordcount(lines))
    const [flatMap, groupBy] = plan.stages[0]!.ops
    expect(flatMap!.source).toMatchObject({ file: here, line: lineOf("@wc-flatMap") })
    expect(groupBy!.source).toMatchObject({ file: here, line: lineOf("@wc-groupBy") })
    const input = plan.stages[0]!.input
    expect(input.kind === "source" && input.source.source.line).toBe(lineOf("@wc-source"))
  })

  it("gives a stable fingerprint: the same for two builds, different for another pipeline", () => {
    const a = Zephyr.compile(wordcount(lines))
    const b = Zephyr.compile(wordcount(lines))
    expect(a.fingerprint).toMatch(/^[0-9a-f]{8,}$/)
    expect(b.fingerprint).toBe(a.fingerprint)
    expect(Zephyr.compile(wordcount(["other data"])).fingerprint).not.toBe(a.fingerprint)
    expect(Zephyr.compile(wordcount(lines).map((x) => x)).fingerprint).not.toBe(a.fingerprint)
  })

  it("explains the plan as text, versioned JSON and dot", () => {
    const plan = Zephyr.compile(wordcount(lines))
    const json = JSON.parse(plan.explain("json"))
    expect(json.version).toBe(1)
    expect(json.fingerprint).toBe(plan.fingerprint)
    expect(json.stages.map((s: any) => [s.id, s.kind, s.boundary.reason, s.shards])).toEqual([
      [0, "map", "shuffle", { in: 3, out: 3 }], [1, "reduce", "end", { in: 3, out: 3 }]
    ])
    const groupBys = json.stages.flatMap((s: any) => s.ops.filter((o: any) => o.kind === "groupBy").map((o: any) => o.role))
    expect(groupBys).toEqual(["scatter", "reduce"])
    for (const op of json.stages.flatMap((s: any) => s.ops)) {
      expect(op).toMatchObject({ id: expect.any(String), kind: expect.any(String), source: { file: here, line: expect.any(Number), column: expect.any(Number) } })
    }
    expect(plan.explain("text")).toContain(plan.fingerprint)
    expect(plan.explain()).toBe(plan.explain("text"))
    expect(plan.explain("dot")).toMatch(/^digraph/)
  })

  it("plans reduce/count as fold → reshard(1) → fold", () => {
    const plan = Zephyr.compile(Dataset.fromList([1, 2, 3]).map((n) => n).count())
    expect(plan.stages.map((s) => [s.kind, s.boundary.reason, s.shards.out])).toEqual([["map", "fold", 3], ["reshard", "reshard", 1], ["fold", "end", 1]])
  })

  it("does not run anything, and does not fail on data problems", () => {
    let calls = 0
    Zephyr.compile(Dataset.fromList([1, 2]).map((n) => { calls++; return n }).count())
    expect(calls).toBe(0)
    const plan = Zephyr.compile(Dataset.readJsonl("/no/such/dir/*.jsonl").writeJsonl("/no/such/out.jsonl"))
    expect(plan.stages).toHaveLength(1)
  })

  it("returns a compiled plan unchanged", () => {
    const plan = Zephyr.compile(wordcount(lines))
    expect(Zephyr.compile(plan)).toBe(plan)
  })
})

describe("running a compiled plan", () => {
  it("Zephyr.run accepts the plan and gives the dataset's results", async () => {
    const plan = Zephyr.compile(wordcount(lines))
    const fromPlan = await Zephyr.run(plan, { workers: 2 })
    const fromDataset = await Zephyr.run(wordcount(lines), { workers: 2 })
    expect(sortedJson(fromPlan.results)).toEqual(counts)
    expect(sortedJson(fromDataset.results)).toEqual(counts)
  })

  it("a plan can run several times", async () => {
    const plan = Zephyr.compile(Dataset.fromList([1, 2, 3]).map((n) => n * 2))
    expect((await Zephyr.run(plan)).results).toEqual([2, 4, 6])
    expect((await Zephyr.run(plan)).results).toEqual([2, 4, 6])
  })

  it("Zephyr.execute accepts the plan", async () => {
    const plan = Zephyr.compile(wordcount(lines))
    const { results } = await Effect.runPromise(Zephyr.execute(plan, { workers: 2 }).pipe(Logger.withMinimumLogLevel(LogLevel.Error)))
    expect(sortedJson(results)).toEqual(counts)
  })

  it("dryRun compiles and runs nothing", async () => {
    let calls = 0
    const { results } = await Zephyr.run(Dataset.fromList([1]).map((n) => { calls++; return n }), { dryRun: true })
    expect(results).toEqual([])
    expect(calls).toBe(0)
  })
})
