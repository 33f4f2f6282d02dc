import type * as View from "./View.ts"

/**
 * The run's metrics in the Prometheus text exposition format 0.0.4 (`/metrics`), read from
 * the dashboard's view:
 * - `zephyr_stage_shards{stage,state}` (gauge): shards of each stage queued, running, done;
 * - `zephyr_workers{state}` (gauge): workers starting, ready, busy, idle, dead, released;
 * - `zephyr_records_total{stage,direction}` (counter): records into (`in`) and out of (`out`) each stage;
 * - `zephyr_bytes_total{stage,direction}` (counter): bytes read and written by each stage;
 * - `zephyr_task_retries_total` (counter): shard attempts handed out again after a failure;
 * - `zephyr_user_counter{stage,name}` (gauge): the user's `Counters`, by the stage that
 *   counted them; the counter's name is a label value, so any name is kept as it is (escaped);
 * - `zephyr_counter{stage,name}` (gauge): Zephyr's own counters (`zephyr/bytes_read`, ...);
 * - `zephyr_run_info{execution_id,fingerprint,state}` (gauge, always 1);
 * - `zephyr_dashboard_streams` (gauge): pages following the run (open event streams).
 */

export const contentType = "text/plain; version=0.0.4; charset=utf-8"

/** A label value: backslash, double quote and line feed escaped, as the format requires. */
export const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const number = (n: number): string => (Number.isNaN(n) ? "NaN" : n === Infinity ? "+Inf" : n === -Infinity ? "-Inf" : String(n))

type Sample = readonly [labels: Readonly<Record<string, string | number>>, value: number]

const family = (name: string, type: "gauge" | "counter", help: string, samples: ReadonlyArray<Sample>): string => {
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`]
  for (const [labels, value] of samples) {
    const entries = Object.entries(labels)
    const set = entries.length === 0 ? "" : `{${entries.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(",")}}`
    lines.push(`${name}${set} ${number(value)}`)
  }
  return lines.join("\n") + "\n"
}

export const render = (view: View.View, extra: { readonly fingerprint: string; readonly streams: number }): string => {
  const workerStates = ["starting", "ready", "busy", "idle", "dead", "released"] as const
  return [
    family("zephyr_run_info", "gauge", "The execution shown, its plan fingerprint and state (always 1).", [
      [{ execution_id: view.executionId ?? "", fingerprint: extra.fingerprint, state: view.state }, 1]
    ]),
    family("zephyr_stage_shards", "gauge", "Shards of each stage by state (queued, running, done).", view.stages.flatMap((s): Array<Sample> => [
      [{ stage: s.id, state: "queued" }, s.queued],
      [{ stage: s.id, state: "running" }, s.inFlight],
      [{ stage: s.id, state: "done" }, s.done]
    ])),
    family("zephyr_workers", "gauge", "Workers by state (starting, ready, busy, idle, dead, released).", workerStates.map((state): Sample => [{ state }, view.workerCounts[state]])),
    family("zephyr_records_total", "counter", "Records into (in) and out of (out) each stage, from the built-in counters.", view.stages.flatMap((s): Array<Sample> => [
      [{ stage: s.id, direction: "in" }, s.recordsIn],
      [{ stage: s.id, direction: "out" }, s.recordsOut]
    ])),
    family("zephyr_bytes_total", "counter", "Bytes read (in) and written (out) by each stage: files, chunk files and shuffle runs.", view.stages.flatMap((s): Array<Sample> => [
      [{ stage: s.id, direction: "in" }, s.bytesIn],
      [{ stage: s.id, direction: "out" }, s.bytesOut]
    ])),
    family("zephyr_task_retries_total", "counter", "Shard attempts handed out again after a failure (user error, lost worker, infrastructure, out of memory).", [[{}, view.retries]]),
    family("zephyr_user_counter", "gauge", "The user's counters (Counters.increment, set, update) by stage; name is the counter's name.",
      view.counters.filter((c) => !c.builtIn).map((c): Sample => [{ stage: c.stage, name: c.name }, c.value])),
    family("zephyr_counter", "gauge", "Zephyr's built-in counters (zephyr/...) by stage.",
      view.counters.filter((c) => c.builtIn).map((c): Sample => [{ stage: c.stage, name: c.name }, c.value])),
    family("zephyr_dashboard_streams", "gauge", "Dashboard pages following the run (open event streams).", [[{}, extra.streams]])
  ].join("")
}
