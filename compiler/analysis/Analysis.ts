import * as fs from "node:fs"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import * as PackageRoot from "../../runtime/PackageRoot.ts"
import { processGlobal } from "../../runtime/ProcessGlobal.ts"
import * as DiagnosticCache from "./DiagnosticCache.ts"
import type { CodeFact } from "./CodeFact.ts"
import type { Finding } from "./Finding.ts"

/**
 * The findings of a module's checks, as this process gets them: from the cache when the
 * module's files are unchanged, otherwise from the analyzer, in a thread of its own
 * (dist/analysis-thread.js) so that it runs while this thread loads the engine and the
 * module and compiles the plan. `zephyr` starts it from its command line (`ahead`), before
 * it loads the engine; nothing here loads Effect or the TypeScript compiler. The same
 * analysis finds the code facts (CodeFact) of explain's advice and of the columns a run's
 * readers read (ReadColumns), only when asked for.
 */

/** The analyzer's thread script in the built engine (absent when running from sources). */
const threadScript = path.join(PackageRoot.dist, "analysis-thread.js")

/** What to find: the checks' findings, the code facts, or both. */
export interface Wanted {
  readonly checks: boolean
  readonly facts: boolean
}

/**
 * The checks and the code facts: the facts cost little more than the checks' program, and a
 * cache entry with both serves every later command (a run needs the facts too).
 */
export const checksAndFacts: Wanted = { checks: true, facts: true }

interface Result {
  readonly findings: ReadonlyArray<Finding> | undefined
  readonly facts: ReadonlyArray<CodeFact> | undefined
  readonly files: ReadonlyArray<{ readonly path: string; readonly text: string }>
}

export interface Started {
  readonly wanted: Wanted
  /** The findings (files absolute); a fresh analysis is stored in the cache first. */
  readonly findings: () => Promise<ReadonlyArray<Finding>>
  /** The code facts, when wanted (none otherwise). */
  readonly facts: () => Promise<ReadonlyArray<CodeFact>>
  /** The files the code facts were found in, with a SHA-256 of the text read (absolute paths). */
  readonly files: () => Promise<ReadonlyArray<DiagnosticCache.HashedFile>>
  /** Whether everything wanted came from the cache. */
  readonly cached: boolean
  /** Stops an analysis nobody will wait for. */
  readonly cancel: () => void
}

const run = (entries: ReadonlyArray<string>, wanted: Wanted): { readonly result: () => Promise<Result>; readonly cancel: () => void } => {
  if (!fs.existsSync(threadScript)) {
    let result: Promise<Result> | undefined
    return { result: () => (result ??= import("./Analyzer.ts").then((Analyzer) => Analyzer.analyze(entries, wanted))), cancel: () => undefined }
  }
  const thread = new Worker(threadScript, { workerData: { entries: [...entries], wanted } })
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

const begin = (entries: ReadonlyArray<string>, wanted: Wanted): Started => {
  const key = DiagnosticCache.keyOf(entries)
  const cached = DiagnosticCache.lookup(key)
  // Only what the cache does not hold is looked for (facts alone cost no type check).
  const missing: Wanted = { checks: wanted.checks && cached?.findings === undefined, facts: wanted.facts && cached?.facts === undefined }
  const none = (what: string) => () => Promise.reject(new Error(`Internal: the ${what} of ${entries.join(", ")} were not asked for`))
  if (!missing.checks && !missing.facts) {
    return {
      wanted,
      findings: wanted.checks ? () => Promise.resolve(cached!.findings!) : none("findings"),
      facts: wanted.facts ? () => Promise.resolve(cached!.facts!) : none("code facts"),
      files: () => Promise.resolve(cached!.files),
      cached: true,
      cancel: () => undefined
    }
  }
  const running = run(entries, missing)
  let result: Promise<Result> | undefined
  const stored = () => (result ??= running.result().then((r) => {
    DiagnosticCache.store(key, r.files, { findings: r.findings, facts: r.facts })
    return r
  }))
  return {
    wanted,
    findings: !wanted.checks ? none("findings") : missing.checks ? () => stored().then((r) => r.findings!) : () => Promise.resolve(cached!.findings!),
    facts: !wanted.facts ? none("code facts") : missing.facts ? () => stored().then((r) => r.facts!) : () => Promise.resolve(cached!.facts!),
    // What the analysis read when it found the facts (a fresh one, or the cached one).
    files: () => (missing.facts ? stored().then((r) => DiagnosticCache.hashed(r.files)) : Promise.resolve(cached!.files)),
    cached: false,
    cancel: running.cancel
  }
}

/** Analyses started from the command line (by dist/early-checks.js, see ProcessGlobal), each taken once by `start`. */
const startedAhead = processGlobal("Analysis/startedAhead", () => new Map<string, Started>())
const keyOf = (entries: ReadonlyArray<string>) => JSON.stringify(entries)

/** Starts the analysis of `entries` (absolute paths) for a `start` to come. */
export const ahead = (entries: ReadonlyArray<string>, wanted: Wanted = checksAndFacts): void => {
  if (entries.length > 0 && !startedAhead.has(keyOf(entries))) startedAhead.set(keyOf(entries), begin(entries, wanted))
}

/** The analysis of `entries`: the one started ahead for them if it looks for all that is wanted, or a new one. */
export const start = (entries: ReadonlyArray<string>, wanted: Wanted = checksAndFacts): Started => {
  const early = startedAhead.get(keyOf(entries))
  startedAhead.delete(keyOf(entries))
  if (early !== undefined && (early.wanted.checks || !wanted.checks) && (early.wanted.facts || !wanted.facts)) return early
  early?.cancel()
  return begin(entries, wanted)
}
