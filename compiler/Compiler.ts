import * as path from "node:path"
import type { Dataset } from "../dsl/Dataset.ts"
import type * as Advice from "./analysis/Advice.ts"
import * as Check from "./analysis/Check.ts"
import type * as Diagnostic from "./analysis/Diagnostic.ts"
import * as SourceCapture from "../dsl/SourceCapture.ts"
import * as CodeHash from "./CodeHash.ts"
import * as Explain from "./explain/index.ts"
import type * as Executable from "../executable/Executable.ts"
import type { ModuleRef } from "../plan/ModuleRef.ts"
import type * as Implementation from "../executable/Implementation.ts"
import type { Pipeline } from "./Logical.ts"
import type * as Plan from "../plan/Plan.ts"
import type * as Stage from "../plan/Stage.ts"
import { finalize } from "./passes/finalize.ts"
import { fuse } from "./passes/fuse.ts"
import { lower } from "./passes/lower.ts"
import { partition } from "./passes/partition.ts"
import { pushdown } from "./passes/pushdown.ts"
import { validate } from "./passes/validate.ts"
import * as CombineSums from "./CombineSums.ts"
import * as ReadColumns from "./ReadColumns.ts"

export interface CompileOptions {
  /** Counts the shards of a file source (the CLI and `Zephyr.compile` list files). */
  readonly countSource?: Plan.SourceCounter | undefined
  /** How workers can rebuild this plan. */
  readonly module?: ModuleRef | undefined
}

/** The compiler: its passes, in order. Each pass is small and pure. */
export const compile = <A, E, R>(dataset: Dataset<A, E, R>, options: CompileOptions = {}): CompiledPlan<A, E, R> => {
  const steps = validate(dataset as Dataset<unknown, unknown, unknown>)
  const lowered = lower(steps)
  const fused = fuse(lowered)
  const pushed = pushdown(fused)
  const partitioned = partition(pushed, options.countSource)
  const plan = finalize(partitioned, lowered.implementations, codeHashes(lowered.pipeline, lowered.implementations), (stages) =>
    CodeHash.ofStages(
      stages.map((calls) => calls.map((c) => ({ loc: c.source, file: SourceCapture.fileOf(c.source), skip: c.skip, fallback: lowered.implementations.get(c.id) ?? null }))),
      moduleFiles(options.module)
    ))
  return new CompiledPlan<A, E, R>(plan, lowered.implementations, options.module)
}

/** The code hash of every DSL call of the pipeline (see CodeHash), by op id. */
const codeHashes = (pipeline: Pipeline, implementations: Implementation.Table): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (p: Pipeline) => {
    for (const { id, source } of [p.source, ...p.ops.map((o) => o.op)]) {
      out[id] = CodeHash.ofCall(source, SourceCapture.fileOf(source), implementations.get(id) ?? null)
    }
    for (const o of p.ops) if (o.t === "join") walk(o.right)
  }
  walk(pipeline)
  return out
}

/** The local files a module was built from (its own, and those esbuild bundled with it), for the stages' code hashes. */
const moduleFiles = (module: ModuleRef | undefined): Array<string> =>
  module === undefined ? [] : [module.path, ...Object.keys(module.sources ?? {}).map((f) => path.resolve(path.dirname(module.path), f))]

const TypeId: unique symbol = Symbol.for("zephyr/CompiledPlan")

/** A compiled, inspectable plan; `Zephyr.run` and `Zephyr.execute` accept it in place of a dataset. */
export class CompiledPlan<out A = unknown, out E = never, out R = never> implements Executable.Executable {
  declare readonly "~types": { readonly A: A; readonly E: E; readonly R: R }
  readonly [TypeId] = TypeId
  constructor(
    readonly plan: Plan.Plan,
    readonly implementations: Implementation.Table,
    readonly module: ModuleRef | undefined,
    readonly readColumns: ReadColumns.ReadColumns | undefined = undefined,
    readonly combineSums: CombineSums.CombineSums | undefined = undefined
  ) {}

  static isCompiledPlan(u: unknown): u is CompiledPlan<unknown, unknown, unknown> {
    return typeof u === "object" && u !== null && TypeId in u
  }

  get stages(): ReadonlyArray<Stage.Stage> { return this.plan.stages }
  get fingerprint(): string { return this.plan.fingerprint }
  get version(): 1 { return this.plan.version }

  /** The plan as `zephyr compile --explain` prints it; with `advice` (from `advice()`), text and JSON show it too. */
  explain(format: Explain.Format = "text", advice?: ReadonlyArray<Advice.Advice>): string { return Explain.render(this.plan, format, advice) }

  toJSON(): Plan.Plan { return this.plan }

  /**
   * The static checks of the module that built this plan (or of the files its DSL calls
   * were written in), as `Zephyr.check` gives them.
   */
  check(): Promise<ReadonlyArray<Diagnostic.Diagnostic>> { return Check.plan(this) }

  /**
   * Explain's advice for this plan, as data: what could run better (a groupBy with no
   * combiner, a filter that could run before its map...), where, and the fix. Reads the
   * code of the module that built it, like `check()`; never fails for the advice's sake.
   */
  advice(): Promise<ReadonlyArray<Advice.Advice>> { return Check.advice(this) }

  withModule(module: ModuleRef): CompiledPlan<A, E, R> {
    return new CompiledPlan<A, E, R>(this.plan, this.implementations, module, this.readColumns, this.combineSums)
  }

  /** This plan with its loads reading only the columns its functions read (see ReadColumns); the same fingerprint. */
  withReadColumns(columns: ReadColumns.ReadColumns): CompiledPlan<A, E, R> {
    if (Object.keys(columns).length === 0) return this
    return new CompiledPlan<A, E, R>(ReadColumns.apply(this.plan, columns), this.implementations, this.module, { ...this.readColumns, ...columns }, this.combineSums)
  }

  /** This plan with what the module's analysis found applied (Executable.Refinements); the same fingerprint. */
  withRefinements(refinements: Executable.Refinements): CompiledPlan<A, E, R> {
    return this.withReadColumns(refinements.readColumns ?? {}).withCombineSums(refinements.combineSums ?? {})
  }

  /** This plan with its scatters adding in place the fields their combiners only sum (see CombineSums); the same fingerprint. */
  withCombineSums(sums: CombineSums.CombineSums): CompiledPlan<A, E, R> {
    if (Object.keys(sums).length === 0) return this
    return new CompiledPlan<A, E, R>(CombineSums.apply(this.plan, sums), this.implementations, this.module, this.readColumns, { ...this.combineSums, ...sums })
  }
}
