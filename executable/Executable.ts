import type * as Implementation from "./Implementation.ts"
import type { ModuleRef } from "../plan/ModuleRef.ts"
import type { Plan } from "../plan/Plan.ts"

/** What the runtime runs: the plan, its user functions, and (optionally) how to rebuild it. */
export interface Executable {
  readonly plan: Plan
  readonly implementations: Implementation.Table
  readonly module: ModuleRef | undefined
}
