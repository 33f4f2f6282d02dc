import * as fs from "node:fs"
import * as path from "node:path"
import { displayPath } from "../../dsl/SourceCapture.ts"
import type * as Executable from "../../executable/Executable.ts"
import { ZephyrPlanError } from "../../plan/Errors.ts"
import type { ModuleRef } from "../../plan/ModuleRef.ts"
import type * as Op from "../../plan/Op.ts"
import type * as Plan from "../../plan/Plan.ts"
import * as CombineSums from "../CombineSums.ts"
import * as ReadColumns from "../ReadColumns.ts"
import type * as Advice from "./Advice.ts"
import * as Advisor from "./Advisor.ts"
import * as Analysis from "./Analysis.ts"
import type { CodeFact } from "./CodeFact.ts"
import * as Diagnostic from "./Diagnostic.ts"
import type { Finding } from "./Finding.ts"
import * as Report from "./Report.ts"

/**
 * The static checks as the engine reports them: the module's findings (Analysis: cached, or
 * from the analyzer's thread) matched to the plan at hand. Findings name the DSL calls
 * they concern by location, and each becomes a diagnostic naming the plan's op recorded
 * there, so cached findings serve any args. Explain's advice comes the same way: the
 * code facts of the module's DSL calls (from the same cache or analysis, only when asked
 * for), matched to the plan's ops, then Advisor's rules. Nothing here loads the TypeScript
 * compiler: `zephyr --version`, worker processes and a run whose findings are cached never do.
 */

/** The plan's sources and ops by the absolute location of their DSL call. */
const opsByLocation = (plan: Plan.Plan): Map<string, string> => {
  const at = new Map<string, string>()
  const key = (l: { file: string; line: number; column: number }) => `${path.resolve(l.file)}:${l.line}:${l.column}`
  for (const stage of plan.stages) {
    // A source shares its location with its load (readJsonl): the op names the call.
    if (stage.input.kind === "source" && !at.has(key(stage.input.source.source))) at.set(key(stage.input.source.source), stage.input.source.id)
    for (const op of stage.ops) at.set(key(op.source), op.id)
  }
  return at
}

const toDiagnostic = (finding: Finding, ops: ReadonlyMap<string, string>): Diagnostic.Diagnostic => {
  const { call, ...d } = finding
  const op = call === undefined ? undefined : ops.get(`${call.file}:${call.line}:${call.column}`)
  return { ...d, file: displayPath(d.file), ...(op !== undefined ? { op } : {}) }
}

/** Checks started ahead of the plan they are for (see `start`). */
export interface Pending {
  /** The diagnostics, each finding about a DSL call matched to the op of `plan` recorded there. */
  readonly diagnostics: (plan?: Plan.Plan) => Promise<ReadonlyArray<Diagnostic.Diagnostic>>
  /**
   * The advice for `plan` (when started with `advice`). Advice never fails: when the code
   * could not be analysed, only the rules that need no code apply.
   */
  readonly advice: (plan: Plan.Plan) => Promise<ReadonlyArray<Advice.Advice>>
  /**
   * What a run applies to `plan` (Executable.Refinements: the columns its loads need, the
   * fields its combiners only sum), when started with `facts`: none when the code could not
   * be analysed, or when `module`'s files are not the ones the analysis read.
   */
  readonly refinements: (plan: Plan.Plan, module: ModuleRef | undefined) => Promise<Required<Executable.Refinements>>
  /** Stops an analysis nobody will wait for. */
  readonly cancel: () => void
}

/** What `pick` takes from the code facts of each op's call, by the location of the op's call. */
const factsByOp = (facts: ReadonlyArray<CodeFact>, pick: (fact: CodeFact) => ReadonlyArray<string> | undefined) => {
  const at = new Map<string, ReadonlyArray<string>>()
  for (const fact of facts) {
    const picked = pick(fact)
    if (picked !== undefined) at.set(`${fact.call.file}:${fact.call.line}:${fact.call.column}`, picked)
  }
  return (op: Op.Op): ReadonlyArray<string> | undefined => at.get(`${path.resolve(op.source.file)}:${op.source.line}:${op.source.column}`)
}

/** What each op's function reads of its item (item-reads facts). */
const readsOf = (facts: ReadonlyArray<CodeFact>) => factsByOp(facts, (f) => (f.kind === "item-reads" ? f.fields : undefined))

/** What each groupBy's combiner only sums (combiner-sums facts). */
const sumsOf = (facts: ReadonlyArray<CodeFact>) => factsByOp(facts, (f) => (f.kind === "combiner-sums" ? f.fields : undefined))

/**
 * Whether the module was built from the files the analysis read (a file edited in between
 * could read other fields): each of its sources has the hash of the text analysed.
 */
const analysed = (module: ModuleRef | undefined, files: ReadonlyArray<{ readonly path: string; readonly sha256: string }>): boolean => {
  if (module?.sources === undefined) return false
  const read = new Map(files.map((f) => [path.resolve(f.path), f.sha256]))
  return Object.entries(module.sources).every(([file, hash]) => read.get(path.resolve(path.dirname(module.path), file))?.startsWith(hash) === true)
}

/** The advice for a plan, given the code facts of its module's DSL calls (absolute positions). */
export const advise = (plan: Plan.Plan, facts: ReadonlyArray<CodeFact>): Array<Advice.Advice> => {
  const ops = opsByLocation(plan)
  const byOp = new Map<string, Array<CodeFact>>()
  for (const fact of facts) {
    const op = ops.get(`${fact.call.file}:${fact.call.line}:${fact.call.column}`)
    if (op !== undefined) byOp.set(op, [...(byOp.get(op) ?? []), fact])
  }
  return Advisor.advise(plan, byOp)
}

/**
 * Starts the checks of `entries` (absolute paths of modules): a cache lookup, or the
 * analysis in its thread. Call it before loading the module, and ask for the diagnostics
 * (and the advice or the columns its readers read, with `wanted.facts`) once the plan is compiled.
 */
export const start = (entries: ReadonlyArray<string>, wanted: Analysis.Wanted = Analysis.checksAndFacts): Pending => {
  if (entries.length === 0) return { diagnostics: async () => [], advice: async (plan) => advise(plan, []), refinements: async () => ({ readColumns: {}, combineSums: {} }), cancel: () => undefined }
  const started = Analysis.start(entries, wanted)
  return {
    diagnostics: async (plan) => {
      const findings = await started.findings().catch((e: unknown) => {
        throw new ZephyrPlanError({
          reason: "failed-checks",
          message: `The static checks of ${entries.map(displayPath).join(", ")} could not run (${(e as Error)?.message ?? String(e)}); --no-check skips them.`
        })
      })
      const ops = plan === undefined ? new Map<string, string>() : opsByLocation(plan)
      return findings.map((f) => toDiagnostic(f, ops)).sort(Diagnostic.order)
    },
    advice: async (plan) => advise(plan, wanted.facts ? await started.facts().catch(() => []) : []),
    refinements: async (plan, module) => {
      const found = wanted.facts ? await Promise.all([started.facts(), started.files()]).catch(() => undefined) : undefined
      if (found === undefined || !analysed(module, found[1])) return { readColumns: {}, combineSums: {} }
      return { readColumns: ReadColumns.infer(plan, readsOf(found[0])), combineSums: CombineSums.infer(plan, sumsOf(found[0])) }
    },
    cancel: started.cancel
  }
}

/** The modules a plan was built by: its module, or else the files its DSL calls were written in. */
export const entriesOf = (executable: Pick<Executable.Executable, "plan" | "module">): Array<string> => {
  if (executable.module) return [path.resolve(executable.module.path)]
  const files = new Set<string>()
  for (const stage of executable.plan.stages) {
    if (stage.input.kind === "source") files.add(path.resolve(stage.input.source.source.file))
    for (const op of stage.ops) files.add(path.resolve(op.source.file))
  }
  return [...files].filter((f) => /\.[cm]?tsx?$/.test(f) && fs.existsSync(f)).sort()
}

/** The diagnostics of a compiled plan's module (see `entriesOf`). */
export const plan = (executable: Pick<Executable.Executable, "plan" | "module">): Promise<ReadonlyArray<Diagnostic.Diagnostic>> =>
  start(entriesOf(executable)).diagnostics(executable.plan)

/** The advice for a compiled plan (see `entriesOf`); its code analysed without the checks, unless the cache has both. */
export const advice = (executable: Pick<Executable.Executable, "plan" | "module">): Promise<ReadonlyArray<Advice.Advice>> =>
  start(entriesOf(executable), { checks: false, facts: true }).advice(executable.plan)

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
