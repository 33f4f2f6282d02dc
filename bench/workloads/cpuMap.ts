/**
 * A CPU-bound map (8 shards of pure computation, about 1.5 s each at `--mb 100` on this
 * machine, scaled with `--mb`) on 1 and on 2 workers, whole commands.
 * Target: 2 workers at least 1.7x faster than 1.
 */
import * as Answers from "../Answers.ts"
import * as Processes from "../Processes.ts"
import * as Contenders from "../Contenders.ts"
import * as Workload from "../Workload.ts"

export const name = "cpu-map"

export const make: Workload.Make = async (context) => {
  const rounds = String(6_000_000 * context.mb)
  const contender = (workers: number): Workload.Contender => ({
    name: `zephyr, ${workers} worker${workers > 1 ? "s" : ""}`,
    zephyr: true,
    run: async () => {
      const finished = await Processes.node(Contenders.zephyrArgv("bench/pipelines/cpuMap.ts", workers, { rounds }, ["--print-results"]), { cwd: context.repo })
      return { seconds: finished.seconds, answer: Answers.ofLines(finished.stdout.split("\n"), (r: { shard: number; hash: number }) => `${r.shard}\t${r.hash}`) }
    }
  })
  return {
    name,
    title: `CPU-bound map, 8 shards x ${rounds} hash rounds`,
    contenders: [contender(1), contender(2)],
    targets: (results) => [
      { name: "speed-up of 2 workers over 1", value: Workload.seconds(results, "zephyr, 1 worker") / Workload.seconds(results, "zephyr, 2 workers"), unit: "x", limit: 1.7, atMost: false }
    ]
  }
}
