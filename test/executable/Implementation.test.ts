import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { col, Dataset, Zephyr } from "zephyr"
import * as Implementation from "../../executable/Implementation.ts"
import { allKinds, OpKind } from "../../plan/OpKind.ts"

// Pipelines that, together, lower to every op kind.
const none = { emptyGlobOk: true }
const pipelines = () => {
  const right = Dataset.fromList([{ id: 1, b: 2 }]).groupBy((r) => r.id, (_k, rs) => [...rs][0]!, { numOutputShards: 1 })
  return [
    Dataset.fromList([{ id: 1, a: 1 }, { id: 2, a: 2 }])
      .map((r) => r)
      .filter((r) => r.a > 0)
      .filter(col("a").gt(0))
      .flatMap((r) => [r])
      .mapEffect((r) => Effect.succeed(r))
      .mapShard((rs) => rs)
      .select("id", "a")
      .takePerShard(10)
      .windowBy((n: number) => [n < 2, n + 1] as const, 0)
      .window(2)
      .reshard(1)
      .groupBy((w) => w.length, (_k, ws) => [...ws].length, { numOutputShards: 1, combiner: (_k, ws) => ws })
      .deduplicate((n) => n)
      .writeJsonl("/tmp/never-written-{shard}.jsonl"),
    Dataset.fromList([{ id: 1 }]).groupBy((r) => r.id, (_k, rs) => [...rs][0]!, { numOutputShards: 1 }).sortedMergeJoin(right, { leftKey: (l) => l.id, rightKey: (r) => r.id }),
    Dataset.fromList([1, 2]).reduce((xs) => [...xs].length),
    Dataset.fromList([1, 2]).count(),
    Dataset.fromFiles("no-such-dir/*.txt", none).loadFile(),
    Dataset.readJsonl("no-such-dir/*.jsonl", none),
    Dataset.readParquet("no-such-dir/*.parquet", none),
    Dataset.readText("no-such-dir/*.txt", none),
    Dataset.readCsv("no-such-dir/*.csv", none)
  ]
}

describe("the link from an op to its implementation", () => {
  it("finds, for every op kind, the implementation its kind links to (linkOf) under the op's id", () => {
    const seen = new Set<string>()
    for (const ds of pipelines()) {
      const plan = Zephyr.compile(ds as Dataset<unknown, unknown, never>)
      for (const stage of plan.stages) {
        for (const op of stage.ops) {
          seen.add(op.kind)
          const link = Implementation.linkOf[op.kind]
          const dataOnly = link === null || (op.kind === OpKind.filter && op.expr !== null)
          if (dataOnly) {
            expect(plan.implementations.has(op.id), `${op.kind} ${op.id} is plain data`).toBe(false)
            expect(() => Implementation.of(plan.implementations, op)).toThrow(/Internal/)
          } else {
            expect(Implementation.of(plan.implementations, op).kind, `${op.kind} ${op.id}`).toBe(link)
          }
        }
      }
    }
    expect([...seen].sort()).toEqual([...allKinds].sort())
  })
})
