import { parentPort, workerData } from "node:worker_threads"
import * as Analyzer from "./Analyzer.ts"

/**
 * The analyzer in a thread of its own (dist/analysis-thread.js): Check starts it before the
 * module is loaded, so the compiler loads and checks while the plan is built.
 */
const { entries } = workerData as { readonly entries: ReadonlyArray<string> }
try {
  const { findings, files } = Analyzer.analyze(entries)
  parentPort!.postMessage({ ok: true, analysis: { findings, files } })
} catch (e) {
  parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) })
}
