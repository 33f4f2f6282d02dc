import type * as Implementation from "./Implementation.ts"
import type { ModuleRef } from "../plan/ModuleRef.ts"
import type { Plan } from "../plan/Plan.ts"

/** What the runtime runs: the plan, its user functions, and (optionally) how to rebuild it. */
export interface Executable {
  readonly plan: Plan
  readonly implementations: Implementation.Table
  readonly module: ModuleRef | undefined
  /** The columns its loads read, as the module's analysis found them (ReadColumns): workers apply them to the plan they rebuild. */
  readonly readColumns?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /** The fields its combiners only sum, as the module's analysis found them (CombineSums): workers apply them too. */
  readonly combineSums?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
}
