/**
 * Scheduling: 10,000 no-op tasks (one item per shard) on 2 workers, net of start-up (the
 * same command with 2 tasks is subtracted), against a raw round-trip loop over the same
 * transport (@effect/rpc, TCP, msgpack, between two processes).
 * Targets: ≥ 5,000 tasks/s net; ≥ 50% of the raw round-trip rate.
 */
import * as Processes from "../Processes.ts"
import * as Contenders from "../Contenders.ts"
import * as Workload from "../Workload.ts"

export const name = "tasks"

const TASKS = 10_000
const FLOOR = 2

export const make: Workload.Make = async (context) => {
  const noop = (n: number): Workload.Contender => ({
    name: `zephyr, ${n} no-op tasks`,
    zephyr: true,
    run: async () => {
      const finished = await Processes.node(Contenders.zephyrArgv("bench/pipelines/noop.ts", 2, { n: String(n) }, ["--print-results"]), { cwd: context.repo })
      // the identity over 0..n-1, in shard order
      const results = finished.stdout.split("\n").filter((l) => l !== "").map(Number)
      if (results.length !== n || results.some((x, i) => x !== i)) {
        throw new Error(`${n} no-op tasks returned ${results.length} results, not 0..${n - 1} in order`)
      }
      return { seconds: finished.seconds }
    }
  })
  const raw: Workload.Contender = {
    name: "raw rpc echo loop",
    zephyr: false,
    run: async () => {
      const finished = await Processes.node(["bench/baselines/rpc-echo.mjs", "--calls", String(TASKS)], { cwd: context.repo })
      const r = JSON.parse(finished.stdout.trim().split("\n").pop()!) as { perSecond: number; seconds: number }
      return { seconds: finished.seconds, detail: { roundTripsPerSecond: r.perSecond, loopSeconds: r.seconds } }
    }
  }
  const net = (results: Workload.Results) =>
    (TASKS - FLOOR) / (Workload.seconds(results, `zephyr, ${TASKS} no-op tasks`) - Workload.seconds(results, `zephyr, ${FLOOR} no-op tasks`))
  return {
    name,
    title: `${TASKS.toLocaleString("en")} no-op tasks on 2 workers`,
    contenders: [noop(TASKS), noop(FLOOR), raw],
    targets: (results) => [
      { name: "tasks/s net of start-up", value: net(results), unit: "/s", limit: 5_000, atMost: false },
      { name: "tasks/s net / raw round trips/s", value: net(results) / Workload.detail(results, "raw rpc echo loop", "roundTripsPerSecond"), unit: "x", limit: 0.5, atMost: false }
    ]
  }
}
