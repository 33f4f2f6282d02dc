import * as TaskContext from "../runtime/task/TaskContext.ts"

/**
 * Read-only values given to a run with `Zephyr.run(ds, { shared: { name: value } })`,
 * available by name inside user code on every worker.
 */
export const get = <T = unknown>(name: string): T => {
  const ctx = TaskContext.get()
  if (!ctx) throw new Error(`Shared.get(${JSON.stringify(name)}) can only be called from user code while a pipeline runs.`)
  return ctx.shared(name) as T
}
