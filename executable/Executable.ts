import type * as Implementation from "./Implementation.ts"
import type { ModuleRef } from "../plan/ModuleRef.ts"
import type { Plan } from "../plan/Plan.ts"

/**
 * What the module's static analysis found that a run applies to its plan after the passes
 * (the fingerprint stays), by op id: the columns its loads read (ReadColumns) and the fields
 * its combiners only sum (CombineSums). The driver sends them with the job, and each worker
 * applies them to the plan it rebuilds.
 */
export interface Refinements {
  readonly readColumns?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  readonly combineSums?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
}

/** The refinements that say something (a job leaves out the empty ones). */
export const nonEmpty = (r: Refinements): Refinements => ({
  ...(r.readColumns !== undefined && Object.keys(r.readColumns).length > 0 ? { readColumns: r.readColumns } : {}),
  ...(r.combineSums !== undefined && Object.keys(r.combineSums).length > 0 ? { combineSums: r.combineSums } : {})
})

/** What the runtime runs: the plan, its user functions, and (optionally) how to rebuild it and what refines it. */
export interface Executable extends Refinements {
  readonly plan: Plan
  readonly implementations: Implementation.Table
  readonly module: ModuleRef | undefined
}
