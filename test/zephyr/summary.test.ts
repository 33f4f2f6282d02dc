import * as fs from "node:fs"
import * as path from "node:path"
import { Effect, Logger, LogLevel } from "effect"
import { describe, expect, it } from "vitest"
import { Counters, Dataset, Zephyr } from "zephyr"
import { jsonl, useTempDirs, writeFile } from "./helpers.ts"

const tempDir = useTempDirs()

/** Runs with a logger that keeps every message at warning level and above. */
const runLogged = async <A>(ds: Dataset<A>, options: Zephyr.RunOptions) => {
  const warnings: Array<string> = []
  const logger = Logger.make(({ logLevel, message }) => {
    if (LogLevel.greaterThanEqual(logLevel, LogLevel.Warning)) warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
  })
  const result = await Effect.runPromise(Zephyr.execute(ds, options).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
  return { result, warnings }
}

describe("the result's summary", () => {
  it("has per stage its wall time, records and bytes in and out, and its own counters; the files written", async () => {
    const dir = tempDir()
    const input = path.join(dir, "in")
    for (let f = 0; f < 3; f++) writeFile(path.join(input, `part-${f}.jsonl`), jsonl(Array.from({ length: 10 }, (_, i) => ({ user: `u${i % 4}`, n: i }))))
    const ds = Dataset.readJsonl(path.join(input, "*.jsonl"))
      .map((r) => { Counters.increment("rows"); return r as { user: string; n: number } })
      .groupBy((r) => r.user, (user, rows) => { Counters.increment("users"); let n = 0; for (const r of rows) n += r.n; return { user, n } }, { numOutputShards: 2 })
      .writeJsonl(path.join(dir, "out", "users-{shard}.jsonl"))
    const { results, counters, summary } = await Zephyr.run(ds, { workers: 2 })
    expect(counters).toMatchObject({ rows: 30, users: 4 })
    expect(summary.outcome).toBe("succeeded")
    const [map, reduce] = summary.stages
    // Stage 0 read 30 rows from three files, sent 30 items to the shuffle (no combiner).
    expect(map).toMatchObject({ id: 0, kind: "map", state: "done", shards: 3, recordsIn: 30, recordsOut: 30, retries: 0 })
    const inputBytes = [0, 1, 2].reduce((n, f) => n + fs.statSync(path.join(input, `part-${f}.jsonl`)).size, 0)
    expect(map!.bytesIn).toBe(inputBytes)
    expect(map!.bytesOut).toBeGreaterThan(0)
    // Each stage's counters are its own: the stage filter of the result.
    expect(map!.counters.rows).toBe(30)
    expect(map!.counters.users).toBeUndefined()
    expect(reduce).toMatchObject({ id: 1, kind: "reduce", state: "done", shards: 2, recordsIn: 30, recordsOut: 4 })
    expect(reduce!.counters.users).toBe(4)
    expect(reduce!.counters.rows).toBeUndefined()
    const written = results.reduce((n, f) => n + fs.statSync(f as string).size, 0)
    expect(reduce!.bytesOut).toBe(written)
    for (const s of summary.stages) expect(s.wallMs).toBeGreaterThanOrEqual(0)
    expect(summary.outputs).toMatchObject({ files: 2, dirs: [{ dir: path.join(dir, "out"), files: 2 }] })
    expect(summary.retries).toEqual({ total: 0, byCause: {} })
  })

  it("a counter given two aggregations keeps the first, with one warning", async () => {
    // One worker runs the shards in order: shard 0 (sum) reports first.
    const ds = Dataset.fromList([1, 2, 3, 4]).map((n) => {
      Counters.update("largest", n * 10, n % 2 === 0 ? "max" : "sum")
      return n
    })
    const { result, warnings } = await runLogged(ds, { workers: 1 })
    expect(result.counters.largest).toBe(10 + 30)
    expect(warnings).toEqual([
      'counter "largest" was given two aggregations: "sum" first, then "max" (stage 0, shard 1); it keeps "sum" and ignores the other. Give each aggregation a counter of its own.'
    ])
  })
})
