import type { Effect, Layer, Scope } from "effect"
import type { ZephyrInfraError } from "../../plan/Errors.ts"
import type * as Executable from "../../executable/Executable.ts"
import type { JobSpec } from "../../rpc/Protocol.ts"
import type { Coordinator } from "../coordinator/Coordinator.ts"

/**
 * Starts a pool of workers for one execution. Each execution gets a fresh pool, named by
 * pipeline and attempt, torn down when its scope closes (processes killed, sockets closed).
 */
export interface PoolContext {
  readonly name: string
  readonly coordinator: Coordinator
  readonly spec: JobSpec
  readonly executable: Executable.Executable
  readonly layer: Layer.Layer<any, any, never> | undefined
  readonly shared: Readonly<Record<string, unknown>>
  readonly workers: number
  readonly maxWorkerRestarts: number
}

export interface Pool {
  /** Completes when the pool is gone for good: every worker exited and none will restart. */
  readonly gone: Effect.Effect<void>
  /** The worker processes' ids and pids, when there are processes (fault tests use them). */
  readonly pids?: (() => ReadonlyArray<{ readonly id: string; readonly pid: number | undefined }>) | undefined
}

export interface Launcher {
  readonly name: string
  readonly start: (ctx: PoolContext) => Effect.Effect<Pool, ZephyrInfraError, Scope.Scope>
}
