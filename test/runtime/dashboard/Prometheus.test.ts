import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import type * as StatusSnapshot from "../../../runtime/coordinator/StatusSnapshot.ts"
import * as Prometheus from "../../../runtime/dashboard/Prometheus.ts"
import * as View from "../../../runtime/dashboard/View.ts"
import * as PrometheusText from "./PrometheusText.ts"

const plan = Zephyr.compile(Dataset.fromList([1, 2, 3, 4]).map((n: number) => n * 2).reshard(2)).plan
const graph = View.graphOf(plan, process.cwd())
const hostile = "odd \"name\" with \\ back\nslash"

// Stage 0 of 2 with 3 of 4 shards done, one running, two retries; workers busy, idle, dead and starting.
const status = (): StatusSnapshot.Snapshot => {
  const stage = (id: number, kind: string, over: Partial<StatusSnapshot.Stage>): StatusSnapshot.Stage => ({
    id, kind, state: "pending", skipped: null, shards: { total: 4, done: 0, inFlight: 0, queued: 0 }, startedAtMs: null, elapsedMs: null,
    io: { recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0 }, counters: {}, retries: 0, retryGroups: [], otherRetries: 0,
    outputs: { files: 0, dirs: [], otherFiles: 0 }, ...over
  })
  const worker = (id: string, state: StatusSnapshot.WorkerPhase, inFlight = 0): StatusSnapshot.Worker =>
    ({ id, state, shards: inFlight ? [3] : [], inFlight, heartbeatAgeMs: 10, stateAgeMs: 10, tasksDone: 0, deaths: 0 })
  return {
    executionId: "exec-\"1\"", atMs: 1_000, startedAtMs: 0, stages: 2, stage: 0, completed: 3, total: 4, inFlight: 1, queued: 0, retries: 2,
    done: false, fatalError: null, failure: null,
    stageProgress: [
      stage(0, "map", {
        state: "running", shards: { total: 4, done: 3, inFlight: 1, queued: 0 }, startedAtMs: 0, elapsedMs: 1_000, retries: 2,
        io: { recordsIn: 30, bytesIn: 300, recordsOut: 20, bytesOut: 200 }, counters: { [hostile]: 1.5, docs: 7, "zephyr/bytes_read": 300 }
      }),
      stage(1, "reshard", {})
    ],
    workers: [worker("w1", "busy", 1), worker("w2", "idle"), worker("w3", "dead"), worker("w4", "starting")],
    workerCounts: { total: 4, alive: 2, starting: 1, ready: 0, busy: 1, idle: 1, dead: 1, released: 0 },
    counters: {}, counterStage: null, recentRetries: []
  }
}
const view = View.fromStatus(status(), { graph, previous: undefined, elapsedMs: 1_000, attempt: 0, cwd: process.cwd() })

describe("/metrics in the Prometheus text format 0.0.4", () => {
  it("parses strictly and carries stages, workers, records, retries and user counters", () => {
    const text = Prometheus.render(view, { fingerprint: plan.fingerprint, streams: 1 })
    const families = PrometheusText.parse(text)
    const samples = (name: string) => families.get(name)!.samples.map((s) => [s.labels, s.value])
    expect(families.get("zephyr_stage_shards")!.type).toBe("gauge")
    expect(samples("zephyr_stage_shards")).toEqual(expect.arrayContaining([
      [{ stage: "0", state: "done" }, 3], [{ stage: "0", state: "running" }, 1], [{ stage: "0", state: "queued" }, 0]
    ]))
    expect(samples("zephyr_workers")).toEqual([[{ state: "starting" }, 1], [{ state: "ready" }, 0], [{ state: "busy" }, 1], [{ state: "idle" }, 1], [{ state: "dead" }, 1], [{ state: "released" }, 0]])
    expect(families.get("zephyr_records_total")!.type).toBe("counter")
    expect(samples("zephyr_records_total")).toEqual(expect.arrayContaining([[{ stage: "0", direction: "in" }, 30], [{ stage: "0", direction: "out" }, 20]]))
    expect(samples("zephyr_bytes_total")).toEqual(expect.arrayContaining([[{ stage: "0", direction: "in" }, 300], [{ stage: "0", direction: "out" }, 200]]))
    expect(samples("zephyr_task_retries_total")).toEqual([[{}, 2]])
    // Any counter name survives as a label value: quotes, backslashes and line feeds escaped.
    expect(samples("zephyr_user_counter")).toEqual([[{ stage: "0", name: hostile }, 1.5], [{ stage: "0", name: "docs" }, 7]])
    expect(samples("zephyr_counter")).toEqual([[{ stage: "0", name: "zephyr/bytes_read" }, 300]])
    expect(samples("zephyr_run_info")).toEqual([[{ execution_id: "exec-\"1\"", fingerprint: plan.fingerprint, state: "running" }, 1]])
    expect(samples("zephyr_dashboard_streams")).toEqual([[{}, 1]])
    for (const f of families.values()) expect(f.help).toBeTruthy()
  })

  it("the parser refuses what the format does not allow", () => {
    const bad = [
      "x 1", // no final line feed
      "# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n", // a repeated series
      "# TYPE x gauge\nx{a=\"\\q\"} 1\n", // an unknown escape
      "# TYPE x gauge\nx{a=\"1\"}\n", // no value
      "# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx 2\n", // a family in two places
      "x 1\n", // no TYPE
      "# TYPE 1x gauge\n", // a bad metric name
      "# TYPE x gauge\nx{1a=\"v\"} 1\n", // a bad label name
      "# TYPE x gauge\nx one\n" // a bad value
    ]
    for (const text of bad) expect(() => PrometheusText.parse(text), text).toThrow()
  })

  it("escapes label values as the format says", () => {
    expect(Prometheus.escapeLabel("a\\b\"c\nd")).toBe("a\\\\b\\\"c\\nd")
  })
})
