import { AsyncLocalStorage } from "node:async_hooks"
import { Fiber, FiberRef, Option } from "effect"
import type { CounterSet } from "./CounterSet.ts"

/**
 * The ambient context the runtime provides while user code of one task runs, so that
 * `Counters` and `Shared` work from inside plain functions. Synchronous chunk loops set it
 * directly (cheapest); Effects see it through a FiberRef; async callbacks through
 * AsyncLocalStorage.
 */
export interface TaskContext {
  readonly counters: CounterSet
  readonly shared: (name: string) => unknown
  readonly stage: number
  readonly shard: number
  readonly totalShards: number
  readonly attempt: number
  readonly workerId: string
}

let current: TaskContext | undefined
const storage = new AsyncLocalStorage<TaskContext>()
export const fiberRef: FiberRef.FiberRef<TaskContext | undefined> = FiberRef.unsafeMake<TaskContext | undefined>(undefined)

export const get = (): TaskContext | undefined => {
  if (current) return current
  const fiber = Fiber.getCurrentFiber()
  if (Option.isSome(fiber)) {
    const ctx = fiber.value.getFiberRef(fiberRef)
    if (ctx) return ctx
  }
  return storage.getStore()
}

/** Runs synchronous user code with `ctx` as the current task. */
export const runSync = <T>(ctx: TaskContext, f: () => T): T => {
  const prev = current
  current = ctx
  try { return f() } finally { current = prev }
}

/**
 * Runs asynchronous work with `ctx` visible to its callbacks: for stages whose user code
 * awaits (`mapEffect`, whose Effects may run a plain async function). Only those: the first
 * `run` of an AsyncLocalStorage turns on Node's promise hooks for the rest of the process,
 * which then run on every promise the engine makes (a worker of group-by-count spent about
 * 20 ms of each run optimising them, and ran them for every chunk).
 */
export const runAsync = <T>(ctx: TaskContext, f: () => T): T => storage.run(ctx, f)
