/**
 * Dedup by `doc` on JSONL (`--mb` MiB in 8 files, about half duplicates): Zephyr on 2
 * workers against a Node script with a `Set`. The issue sets no target; the ratio is reported.
 */
import * as Answers from "../Answers.ts"
import * as Contenders from "../Contenders.ts"
import * as Datasets from "../Datasets.ts"
import type * as Workload from "../Workload.ts"

export const name = "dedup"

export const make: Workload.Make = async (context) => {
  const data = Datasets.jsonl(context.mb)
  // which duplicate survives is not specified, so only the keys are compared
  const answer = (dir: string) => Answers.ofDir(dir, (r: { doc: string }) => r.doc)
  const shards = context.explicitShards ? { shards: String(data.files.length) } : {}
  return {
    name,
    title: `dedup, ${context.mb} MiB JSONL in ${data.files.length} files`,
    contenders: [
      Contenders.zephyr(context, name, { name: "zephyr, 2 workers", module: "bench/pipelines/dedup.ts", workers: 2, args: { input: data.glob, ...shards } }, answer),
      Contenders.baseline(context, name, "node Set, 1 process", "node-dedup.mjs", (out) => ["--out", out, ...data.files], answer)
    ],
    targets: () => []
  }
}
