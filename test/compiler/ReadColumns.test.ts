import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import { col, Dataset, Zephyr } from "zephyr"
import * as ReadColumns from "../../compiler/ReadColumns.ts"
import type * as Op from "../../plan/Op.ts"

interface Row { readonly id: number; readonly key: string; readonly text: string }
const rows = () => Dataset.readJsonl("in/*.jsonl") as unknown as Dataset<Row>

// What each op's function reads, as the analysis would say, by the op's function's name.
const known: Record<string, ReadonlyArray<string>> = { keyOf: ["key"], isLong: ["text"], pair: ["id", "key"], splitText: ["text"], none: [] }
const reads = (op: Op.Op): ReadonlyArray<string> | undefined => (op.name !== null ? known[op.name] : undefined)

const keyOf = (r: Pick<Row, "key">) => r.key
const isLong = (r: Row) => r.text.length > 10
const pair = (r: Row) => ({ id: r.id, key: r.key })
const splitText = (r: Row) => r.text.split(" ")
const none = () => 1
const unknown = (r: Row) => JSON.stringify(r)

const inferred = (ds: Dataset<any, any, any>) => {
  const plan = Zephyr.compile(ds)
  const columns = ReadColumns.infer(plan.plan, reads)
  // By stage: the columns of its load, if any.
  return plan.stages.map((s) => columns[s.ops[0]?.id ?? ""])
}

describe("ReadColumns.infer: the fields a stage's reader must give its functions", () => {
  const cases: ReadonlyArray<readonly [string, Dataset<any, any, any>, ReadonlyArray<ReadonlyArray<string> | undefined>]> = [
    ["a map reading one field", rows().map(keyOf), [["key"]]],
    ["filters before the map add what they read", rows().filter(isLong).filter(col("id").gt(3)).map(pair), [["id", "key", "text"]]],
    ["a flatMap", rows().flatMap(splitText).map(none), [["text"]]],
    ["a map reading nothing: no field", rows().map(none), [[]]],
    ["the map ends what the reader must give: a groupBy after it sees the map's items", rows().map(pair).groupBy((p) => p.key, (k, ps) => ({ k, n: [...ps].length })), [["id", "key"], undefined]],
    ["a map whose reads are unknown", rows().map(unknown), [undefined]],
    ["a filter whose reads are unknown, before a known map", rows().filter((r) => JSON.stringify(r).length > 2).map(keyOf), [undefined]],
    ["rows that go on whole: a filter then a write", rows().filter(isLong).writeJsonl("out/{shard}.jsonl"), [undefined]],
    ["rows that go on whole: a groupBy right after the read", rows().groupBy(keyOf, (k, rs) => ({ k, n: [...rs].length })), [undefined, undefined]],
    ["a select already pushed into the reader stays", rows().select("key", "id").map(keyOf), [undefined]],
    ["rows decoded with a schema may need every field", Dataset.readJsonl("in/*.jsonl", { schema: Schema.Struct({ id: Schema.Number, key: Schema.String, text: Schema.String }) }).map(keyOf), [undefined]],
    ["text lines are not rows of fields", Dataset.readText("in/*.txt").map((t) => t.length), [undefined]],
    ["a list source has no reader", Dataset.fromList<Row>([]).map(keyOf), [undefined]]
  ]
  for (const [name, ds, expected] of cases) it(name, () => expect(inferred(ds)).toEqual(expected))
})

describe("ReadColumns.apply", () => {
  it("sets the columns of the listed loads, marked as inferred, and keeps the fingerprint", () => {
    const plan = Zephyr.compile(rows().map(keyOf))
    const load = plan.stages[0]!.ops[0]!
    const applied = plan.withReadColumns({ [load.id]: ["key"] })
    expect(applied.fingerprint).toBe(plan.fingerprint)
    expect(applied.stages.map((s) => s.fingerprint)).toEqual(plan.stages.map((s) => s.fingerprint))
    expect(applied.stages[0]!.ops[0]).toMatchObject({ id: load.id, columns: ["key"], columnsInferred: true })
    expect(applied.readColumns).toEqual({ [load.id]: ["key"] })
    expect(applied.explain("text")).toContain("columns [key] (the fields its functions read)")
    // The plan it came from is unchanged.
    expect(plan.stages[0]!.ops[0]).toMatchObject({ columns: null })
  })

  it("leaves alone ids that are not loads reading every column", () => {
    const plan = Zephyr.compile(rows().select("key").map(keyOf))
    const [load, select, map] = plan.stages[0]!.ops
    const applied = ReadColumns.apply(plan.plan, { [load!.id]: ["id"], [select!.id]: ["id"], [map!.id]: ["id"], nope: ["id"] })
    expect(applied.stages).toEqual(plan.plan.stages)
  })
})
