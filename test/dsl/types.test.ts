import { Context, Effect, Schema } from "effect"
import { describe, expectTypeOf, it } from "vitest"
import { Dataset, type Row } from "zephyr"

// Type-level tests: checked by `tsc --noEmit` (part of `npm test`); each `@ts-expect-error`
// fails the type check if the misuse it marks ever compiles.
class Tokenizer extends Context.Tag("Tokenizer")<Tokenizer, { readonly encode: (s: string) => Array<number> }>() {}
class Boom extends Schema.TaggedError<Boom>()("Boom", {}) {}

describe("Dataset types", () => {
  it("element types flow through the chain", () => {
    const ds = Dataset.fromList([1, 2, 3]).map((n) => ({ n }))
    expectTypeOf(ds).toEqualTypeOf<Dataset<{ n: number }>>()
    expectTypeOf(ds.flatMap((r) => [String(r.n)])).toEqualTypeOf<Dataset<string>>()
    expectTypeOf(ds.filter((r) => r.n > 1)).toEqualTypeOf<Dataset<{ n: number }>>()
    expectTypeOf(ds.window(2)).toEqualTypeOf<Dataset<Array<{ n: number }>>>()
    expectTypeOf(ds.count()).toEqualTypeOf<Dataset<number>>()
    expectTypeOf(ds.writeJsonl("o/{shard}.jsonl")).toEqualTypeOf<Dataset<string>>()
    expectTypeOf(ds.mapShard((items, info) => [info.shardIdx])).toEqualTypeOf<Dataset<number>>()
  })

  it("select keeps the named keys", () => {
    const ds = Dataset.fromList([{ a: 1, b: "x", c: true }]).select("a", "c")
    expectTypeOf(ds).toEqualTypeOf<Dataset<Pick<{ a: number; b: string; c: boolean }, "a" | "c">>>()
    // @ts-expect-error: "d" is not a key of the rows
    Dataset.fromList([{ a: 1 }]).select("d")
  })

  it("groupBy: a returned generator is flattened, any other value (arrays too) is one item", () => {
    const ds = Dataset.fromList([{ k: "a", v: 1 }])
    expectTypeOf(ds.groupBy((r) => r.k, (k, items) => ({ k, n: [...items].length }))).toEqualTypeOf<Dataset<{ k: string; n: number }>>()
    expectTypeOf(ds.groupBy((r) => r.k, function* (k, items) { for (const i of items) yield i.v })).toEqualTypeOf<Dataset<number>>()
    expectTypeOf(ds.groupBy((r) => r.k, (_k, items) => [...items])).toEqualTypeOf<Dataset<Array<{ k: string; v: number }>>>()
    // @ts-expect-error: a key must be a value compared by value, not a function
    ds.groupBy((r) => () => r.k, () => 1)
  })

  it("mapEffect adds the Effect's errors and services to the dataset type", () => {
    const ds = Dataset.fromList(["a b"]).mapEffect((s) => Effect.map(Tokenizer, (t) => t.encode(s)))
    expectTypeOf(ds).toEqualTypeOf<Dataset<Array<number>, never, Tokenizer>>()
    const failing = ds.mapEffect((ids) => (ids.length > 0 ? Effect.succeed(ids.length) : Effect.fail(new Boom())))
    expectTypeOf(failing).toEqualTypeOf<Dataset<number, Boom, Tokenizer>>()
  })

  it("loads need paths, and a schema types the rows", () => {
    expectTypeOf(Dataset.readJsonl("x/*.jsonl")).toEqualTypeOf<Dataset<Row>>()
    const Doc = Schema.Struct({ id: Schema.Number, text: Schema.String })
    expectTypeOf(Dataset.readJsonl("x/*.jsonl", { schema: Doc })).toEqualTypeOf<Dataset<{ readonly id: number; readonly text: string }>>()
    expectTypeOf(Dataset.fromFiles("x/*").loadText()).toEqualTypeOf<Dataset<string>>()
    // @ts-expect-error: numbers are not paths
    Dataset.fromList([1, 2]).loadJsonl()
  })

  it("joins merge the two sides by default and take a typed combiner", () => {
    const left = Dataset.fromList([{ id: 1, a: "x" }])
    const right = Dataset.fromList([{ id: 1, b: 2 }])
    expectTypeOf(left.sortedMergeJoin(right, { leftKey: (l) => l.id, rightKey: (r) => r.id })).toEqualTypeOf<Dataset<{ id: number; a: string } & { id: number; b: number }>>()
    const lj = left.sortedMergeJoin(right, { leftKey: (l) => l.id, rightKey: (r) => r.id, how: "left", combiner: (l, r) => ({ a: l.a, b: r?.b ?? null }) })
    expectTypeOf(lj).toEqualTypeOf<Dataset<{ a: string; b: number | null }>>()
    // @ts-expect-error: the right side of an inner join is never null, but keys must agree in type
    left.sortedMergeJoin(right, { leftKey: (l) => l.id, rightKey: (r) => String(r.b) })
  })

  it("a misuse of an element is a type error", () => {
    // Never called: only the type checker looks at these.
    const misuses = () => {
      // @ts-expect-error: the items are numbers
      Dataset.fromList([1, 2]).map((n) => n.toUpperCase())
      // @ts-expect-error: reshard takes a number
      Dataset.fromList([1]).reshard("4")
    }
    expectTypeOf(misuses).toBeFunction()
  })
})
