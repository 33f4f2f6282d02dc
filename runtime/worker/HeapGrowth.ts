import * as v8 from "node:v8"

/**
 * How far a worker process's old generation grows past its live size before V8 collects it
 * in full, from the memory budget (V8's `--heap-growing-percent`).
 *
 * Why: V8 picks that factor from the heap's limit, and a worker's limit is small on purpose
 * (`WorkerProcesses.heapFlags`: the budget plus 128 MiB). For the default budget's 384 MiB,
 * V8 chooses 1.35x: a streaming stage, whose rows live just long enough to be promoted, then
 * ran a full collection every 150–250 ms, 6–10 per 4 input files where a plain Node script
 * runs one, and spent about a fifth of its CPU in the collector (map → filter → write, 8 files, 2
 * workers: 4.0–4.5 s of CPU and 2.4–2.6 s, against 3.0–3.6 s and 1.8–2.2 s with 4x, V8's own
 * factor for large heaps). The heap's limit still holds, and V8 never lets the next collection
 * wait past halfway from the live size to the limit, so a full shuffle behaves as before.
 *
 * The factor is the budget over 64 MiB, at most 4x; below a 128 MiB budget V8 keeps its own,
 * since the room over the budget (150 MB of resident memory) is then mostly taken by the
 * engine itself (a 64 MiB budget with 4x: peak RSS 261 MB, over its 214 MB).
 */
export const percent = (memoryBudgetBytes: number): number | undefined => {
  const factor = Math.min(4, memoryBudgetBytes / 2 ** 20 / 64)
  return factor >= 2 ? Math.round((factor - 1) * 100) : undefined
}

/**
 * Sets the factor for this process. Only for a process that is a worker and nothing else:
 * V8's flags are the whole process's. The factor is read at every full collection, so a
 * worker sets it once it learns its budget from the coordinator, whatever started it (a
 * Kubernetes pod's NODE_OPTIONS cannot carry this flag).
 */
export const apply = (memoryBudgetBytes: number): void => {
  const p = percent(memoryBudgetBytes)
  if (p !== undefined) v8.setFlagsFromString(`--heap-growing-percent=${p}`)
}
