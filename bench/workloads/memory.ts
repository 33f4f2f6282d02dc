/**
 * Memory: a groupBy with no combiner over JSONL 4x the memory budget (`--memory-budget
 * 64MB` over 256 MiB at `--mb 100` and more; the budget scales down with a smaller
 * `--mb`, to 16MB at least), 2 workers. The peak RSS (VmHWM) of every worker process is
 * sampled while it runs; a Node script with a Map checks the answer. Target: every worker ≤ budget + 150 MB.
 */
import * as Answers from "../Answers.ts"
import * as Contenders from "../Contenders.ts"
import * as Datasets from "../Datasets.ts"
import * as Workload from "../Workload.ts"

export const name = "memory"

export const make: Workload.Make = async (context) => {
  const budgetMB = Math.max(16, Math.min(64, Math.round((64 * context.mb) / 100)))
  const data = Datasets.jsonl(4 * budgetMB)
  const shards = context.explicitShards ? { shards: String(data.files.length) } : {}
  const answer = (dir: string) => Answers.ofDir(dir, (r: { user: string; records: number; ids: number }) => `${r.user}\t${r.records}\t${r.ids}`)
  const zephyr = `zephyr, 2 workers, --memory-budget ${budgetMB}MB`
  return {
    name,
    title: `memory: groupBy over ${4 * budgetMB} MiB JSONL with a ${budgetMB}MB budget`,
    contenders: [
      Contenders.zephyr(context, name, {
        name: zephyr, module: "bench/pipelines/groupByUser.ts", workers: 2, args: { input: data.glob, ...shards },
        flags: ["--memory-budget", `${budgetMB}MB`], watchWorkers: true
      }, answer),
      Contenders.baseline(context, name, "node, 1 process, no budget", "node-groupby-user.mjs", (out) => ["--out", out, ...data.files], answer)
    ],
    targets: (results) => [
      { name: "max worker peak RSS (MB)", value: Math.max(...(results.get(zephyr) ?? []).map((m) => Number(m.detail?.maxWorkerPeakRssMB))), unit: "MB", limit: budgetMB + 150, atMost: true }
    ]
  }
}
