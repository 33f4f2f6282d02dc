/**
 * Word count on generated text (`--mb` MiB in 8 files): Zephyr on 2 workers against
 * DuckDB's whole command and Apache Beam's TypeScript SDK on its direct runner.
 * Targets: ≤ 2.5x DuckDB; Beam at least 10x slower than Zephyr.
 */
import * as Answers from "../Answers.ts"
import * as BeamInstall from "../BeamInstall.ts"
import * as Contenders from "../Contenders.ts"
import * as Datasets from "../Datasets.ts"
import * as Workload from "../Workload.ts"

export const name = "wordcount"

export const make: Workload.Make = async (context) => {
  const data = Datasets.text(context.mb)
  const answer = (dir: string) => Answers.ofCounts(dir, "word")
  const shards = context.explicitShards ? { shards: String(data.files.length) } : {}
  const zephyr = "zephyr, 2 workers"
  const beam = await BeamInstall.ensure(context.log)
  const beamContender = Contenders.baseline(context, name, "beam direct runner", "beam-wordcount.mjs",
    (out) => ["--beam", beam.prefix ?? "", "--out", out, ...data.files], answer)
  return {
    name,
    title: `word count, ${context.mb} MiB text in ${data.files.length} files`,
    contenders: [
      Contenders.zephyr(context, name, { name: zephyr, module: "bench/pipelines/wordcount.ts", workers: 2, args: { input: data.glob, ...shards } }, answer),
      Contenders.baseline(context, name, "duckdb", "duckdb-wordcount.mjs", (out) => ["--out", out, data.glob], answer),
      beam.prefix === undefined ? { ...beamContender, skipped: beam.problem } : beamContender
    ],
    targets: (results) => [
      { name: "Zephyr / DuckDB", value: Workload.seconds(results, zephyr) / Workload.seconds(results, "duckdb"), unit: "x", limit: 2.5, atMost: true },
      { name: "Beam / Zephyr (Zephyr faster by)", value: Workload.seconds(results, "beam direct runner") / Workload.seconds(results, zephyr), unit: "x", limit: 10, atMost: false }
    ]
  }
}
