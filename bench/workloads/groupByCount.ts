/**
 * Group-by-count on JSONL (`--mb` MiB in 8 files): Zephyr on 2 workers against a
 * hand-written Node script in 1 and 2 processes and DuckDB's whole command.
 * Targets: ≤ 1.0x the single-process Node script, ≤ 2.5x DuckDB.
 */
import * as Answers from "../Answers.ts"
import * as Contenders from "../Contenders.ts"
import * as Datasets from "../Datasets.ts"
import * as Workload from "../Workload.ts"

export const name = "group-by-count"

export const make: Workload.Make = async (context) => {
  const data = Datasets.jsonl(context.mb)
  const answer = (dir: string) => Answers.ofCounts(dir, "key")
  const shards = context.explicitShards ? { shards: String(data.files.length) } : {}
  const zephyr = "zephyr, 2 workers"
  return {
    name,
    title: `group-by-count, ${context.mb} MiB JSONL in ${data.files.length} files`,
    contenders: [
      Contenders.zephyr(context, name, { name: zephyr, module: "bench/pipelines/groupByCount.ts", workers: 2, args: { input: data.glob, ...shards } }, answer),
      Contenders.baseline(context, name, "node, 1 process", "node-groupby-count.mjs", (out) => ["--out", out, ...data.files], answer),
      Contenders.baseline(context, name, "node, 2 processes", "node-groupby-count.mjs", (out) => ["--processes", "2", "--out", out, ...data.files], answer),
      Contenders.baseline(context, name, "duckdb", "duckdb-groupby-count.mjs", (out) => ["--out", out, data.glob], answer)
    ],
    targets: (results) => [
      { name: "Zephyr / Node, 1 process", value: Workload.seconds(results, zephyr) / Workload.seconds(results, "node, 1 process"), unit: "x", limit: 1.0, atMost: true },
      { name: "Zephyr / DuckDB", value: Workload.seconds(results, zephyr) / Workload.seconds(results, "duckdb"), unit: "x", limit: 2.5, atMost: true }
    ]
  }
}
