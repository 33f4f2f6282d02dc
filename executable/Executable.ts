import type * as Implementation from "./Implementation.ts"
import type { Plan } from "../plan/Plan.ts"

/** How a worker process can rebuild the same plan: the module, its export and its args. */
export interface ModuleRef {
  readonly path: string
  readonly export: string | undefined
  readonly args: Readonly<Record<string, string>>
  /** The module's local source files (relative path → content hash), for resume to notice changed code. */
  readonly sources?: Readonly<Record<string, string>> | undefined
}

/** What the runtime runs: the plan, its user functions, and (optionally) how to rebuild it. */
export interface Executable {
  readonly plan: Plan
  readonly implementations: Implementation.Table
  readonly module: ModuleRef | undefined
}
