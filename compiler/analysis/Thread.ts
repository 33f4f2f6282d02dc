import { parentPort, workerData } from "node:worker_threads"
import * as CompilerCodeCache from "./CompilerCodeCache.ts"

/**
 * The analyzer in a thread of its own (dist/analysis-thread.js): Check starts it before the
 * module is loaded, so the compiler loads and checks while the plan is built. The compiler
 * loads through a V8 code cache (CompilerCodeCache), hence the analyzer's late import.
 */
const { entries, wanted } = workerData as { readonly entries: ReadonlyArray<string>; readonly wanted: { readonly checks: boolean; readonly facts: boolean } }
CompilerCodeCache.install()
try {
  const Analyzer = await import("./Analyzer.ts")
  const { findings, facts, files } = Analyzer.analyze(entries, wanted)
  // Before answering: once answered, the process may exit at any time.
  CompilerCodeCache.save()
  parentPort!.postMessage({ ok: true, analysis: { findings, facts, files } })
} catch (e) {
  parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) })
}
