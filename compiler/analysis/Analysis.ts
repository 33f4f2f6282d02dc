import * as fs from "node:fs"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import * as PackageRoot from "../../runtime/PackageRoot.ts"
import * as DiagnosticCache from "./DiagnosticCache.ts"
import type { Finding } from "./Finding.ts"

/**
 * The findings of a module's checks, as this process gets them: from the cache when the
 * module's files are unchanged, otherwise from the analyzer, in a thread of its own
 * (dist/analysis-thread.js) so that it runs while this thread loads the engine and the
 * module and compiles the plan. `zephyr` starts it from its command line (`ahead`), before
 * it loads the engine; nothing here loads Effect or the TypeScript compiler.
 */

/** The analyzer's thread script in the built engine (absent when running from sources). */
const threadScript = path.join(PackageRoot.dist, "analysis-thread.js")

interface Result {
  readonly findings: ReadonlyArray<Finding>
  readonly files: ReadonlyArray<{ readonly path: string; readonly text: string }>
}

export interface Started {
  /** The findings (files absolute); a fresh analysis is stored in the cache first. */
  readonly findings: () => Promise<ReadonlyArray<Finding>>
  /** Whether they came from the cache. */
  readonly cached: boolean
  /** Stops an analysis nobody will wait for. */
  readonly cancel: () => void
}

const run = (entries: ReadonlyArray<string>): { readonly result: () => Promise<Result>; readonly cancel: () => void } => {
  if (!fs.existsSync(threadScript)) {
    let result: Promise<Result> | undefined
    return { result: () => (result ??= import("./Analyzer.ts").then((Analyzer) => Analyzer.analyze(entries))), cancel: () => undefined }
  }
  const thread = new Worker(threadScript, { workerData: { entries: [...entries] } })
  // Nobody waits for it yet: a command that fails first exits without it.
  thread.unref()
  const result = new Promise<Result>((resolve, reject) => {
    thread.once("message", (m: { ok: true; analysis: Result } | { ok: false; error: string }) => (m.ok ? resolve(m.analysis) : reject(new Error(m.error))))
    thread.once("error", reject)
    thread.once("exit", (code) => reject(new Error(`the analysis thread exited with code ${code} before it answered`)))
  })
  // Its failure is reported when the findings are asked for, not before.
  result.catch(() => undefined)
  return { result: () => (thread.ref(), result), cancel: () => void thread.terminate() }
}

const begin = (entries: ReadonlyArray<string>): Started => {
  const key = DiagnosticCache.keyOf(entries)
  const cached = DiagnosticCache.lookup(key)
  if (cached !== undefined) return { findings: () => Promise.resolve(cached), cached: true, cancel: () => undefined }
  const running = run(entries)
  let findings: Promise<ReadonlyArray<Finding>> | undefined
  return {
    findings: () => (findings ??= running.result().then((r) => {
      DiagnosticCache.store(key, r.files, r.findings)
      return r.findings
    })),
    cached: false,
    cancel: running.cancel
  }
}

/** Analyses started from the command line, each taken once by `start`. */
const startedAhead = new Map<string, Started>()
const keyOf = (entries: ReadonlyArray<string>) => JSON.stringify(entries)

/** Starts the analysis of `entries` (absolute paths) for a `start` to come. */
export const ahead = (entries: ReadonlyArray<string>): void => {
  if (entries.length > 0 && !startedAhead.has(keyOf(entries))) startedAhead.set(keyOf(entries), begin(entries))
}

/** The analysis of `entries`: the one started ahead for them, or a new one. */
export const start = (entries: ReadonlyArray<string>): Started => {
  const early = startedAhead.get(keyOf(entries))
  startedAhead.delete(keyOf(entries))
  return early ?? begin(entries)
}
