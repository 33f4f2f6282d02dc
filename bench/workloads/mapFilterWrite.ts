/**
 * Map -> filter -> write on JSONL (`--mb` MiB in 8 files): Zephyr on 2 workers against a
 * hand-written Node script in 1 and 2 processes. Target: ≤ 0.65x the single-process script.
 */
import * as Answers from "../Answers.ts"
import * as Contenders from "../Contenders.ts"
import * as Datasets from "../Datasets.ts"
import * as Workload from "../Workload.ts"

export const name = "map-filter-write"

/** The fields both sides write, in a fixed order. */
const canonical = (r: { id: number; user: string; score: number; text: string; words: number }) => `${r.id}\t${r.user}\t${r.score}\t${r.text}\t${r.words}`

export const make: Workload.Make = async (context) => {
  const data = Datasets.jsonl(context.mb)
  const answer = (dir: string) => Answers.ofDir(dir, canonical)
  const zephyr = "zephyr, 2 workers"
  return {
    name,
    title: `map -> filter -> write, ${context.mb} MiB JSONL in ${data.files.length} files`,
    contenders: [
      Contenders.zephyr(context, name, { name: zephyr, module: "bench/pipelines/mapFilterWrite.ts", workers: 2, args: { input: data.glob } }, answer),
      Contenders.baseline(context, name, "node, 1 process", "node-map-filter-write.mjs", (out) => ["--out", out, ...data.files], answer),
      Contenders.baseline(context, name, "node, 2 processes", "node-map-filter-write.mjs", (out) => ["--processes", "2", "--out", out, ...data.files], answer)
    ],
    targets: (results) => [
      { name: "Zephyr / Node, 1 process", value: Workload.seconds(results, zephyr) / Workload.seconds(results, "node, 1 process"), unit: "x", limit: 0.65, atMost: true }
    ]
  }
}
