import * as fs from "node:fs"
import * as path from "node:path"
import { displayPath } from "../../dsl/SourceCapture.ts"
import type * as Executable from "../plan/Executable.ts"
import { ZephyrPlanError } from "../plan/Errors.ts"
import type * as Plan from "../plan/Plan.ts"
import * as Diagnostic from "./Diagnostic.ts"
import * as DiagnosticCache from "./DiagnosticCache.ts"
import * as Report from "./Report.ts"

/**
 * The static checks as the engine runs them: from the cache when the module's files are
 * unchanged, otherwise by the analyzer, which this module imports (with the TypeScript
 * compiler) only then. Nothing here loads the compiler, so `zephyr --version`, worker
 * processes and a run whose diagnostics are cached never do.
 */

/** The plan's sources and ops with the absolute file of their DSL call. */
export const opLocations = (plan: Plan.Plan): Array<DiagnosticCache.OpKey> => {
  const out: Array<DiagnosticCache.OpKey> = []
  for (const stage of plan.stages) {
    if (stage.input.kind === "source") {
      const s = stage.input.source
      out.push({ id: s.id, kind: s.kind, file: path.resolve(s.source.file), line: s.source.line, column: s.source.column })
    }
    for (const op of stage.ops) out.push({ id: op.id, kind: op.kind, file: path.resolve(op.source.file), line: op.source.line, column: op.source.column })
  }
  const seen = new Set<string>()
  return out.filter((o) => !seen.has(`${o.id} ${o.kind}`) && seen.add(`${o.id} ${o.kind}`) !== undefined)
}

/** The modules a plan was built by: its module, or else the files its DSL calls were written in. */
export const entriesOf = (executable: Pick<Executable.Executable, "plan" | "module">): Array<string> => {
  if (executable.module) return [path.resolve(executable.module.path)]
  const files = new Set(opLocations(executable.plan).map((o) => o.file))
  return [...files].filter((f) => /\.[cm]?tsx?$/.test(f) && fs.existsSync(f)).sort()
}

/** How the last `diagnose` of this process got its result, for tests. */
let lastOrigin: "cache" | "analysis" | undefined
export const lastOriginOf = (): "cache" | "analysis" | undefined => lastOrigin

/** The diagnostics of `entries` (absolute paths), with files shown as explain shows them. */
export const diagnose = async (entries: ReadonlyArray<string>, ops: ReadonlyArray<DiagnosticCache.OpKey>): Promise<ReadonlyArray<Diagnostic.Diagnostic>> => {
  if (entries.length === 0) return []
  const key = DiagnosticCache.keyOf(entries, ops)
  let diagnostics = DiagnosticCache.lookup(key)
  lastOrigin = "cache"
  if (diagnostics === undefined) {
    lastOrigin = "analysis"
    const Analyzer = await import("./Analyzer.ts")
    const result = Analyzer.analyze(entries, ops)
    DiagnosticCache.store(key, result.files, result.diagnostics)
    diagnostics = result.diagnostics
  }
  return diagnostics.map((d) => ({ ...d, file: displayPath(d.file) }))
}

/** The diagnostics of a compiled plan's module (see `entriesOf`). */
export const plan = (executable: Pick<Executable.Executable, "plan" | "module">): Promise<ReadonlyArray<Diagnostic.Diagnostic>> =>
  diagnose(entriesOf(executable), opLocations(executable.plan))

/**
 * The error of a module whose checks found errors. For a run (`refusedRun`), it says that
 * nothing was started and how to skip the checks; `detail` puts every error in the message,
 * for callers that print nothing else (the CLI prints the diagnostics itself).
 */
export const failure = (
  module: string,
  diagnostics: ReadonlyArray<Diagnostic.Diagnostic>,
  options: { readonly refusedRun: boolean; readonly detail: boolean; readonly skip?: string }
): ZephyrPlanError => {
  const errors = diagnostics.filter(Diagnostic.isError)
  const refused = options.refusedRun ? `, so the run was refused before any worker registered; fix the errors, or skip the checks with ${options.skip ?? "--no-check"}` : ""
  const detail = options.detail ? `:\n${Report.text(errors).trimEnd()}` : "."
  return new ZephyrPlanError({
    reason: "failed-checks",
    message: `${module} failed its checks (${Report.summary(diagnostics)})${refused}${detail}`,
    file: errors[0]?.file ?? module,
    ...(errors[0] ? { line: errors[0].line } : {})
  })
}
