import type { Aggregation } from "../runtime/task/CounterSet.ts"
import * as TaskContext from "../runtime/task/TaskContext.ts"

/**
 * Counters from inside user code. Outside a running task they do nothing. Values come
 * back with the run's result, aggregated over all tasks (sum unless `update` named another).
 */
export const increment = (name: string, n = 1): void => { TaskContext.get()?.counters.increment(name, n) }

/** Replaces the value within the current task. */
export const set = (name: string, value: number): void => { TaskContext.get()?.counters.set(name, value) }

/** Folds `value` into the counter with `aggregation` ("sum", "max", "min" or "avg"). */
export const update = (name: string, value: number, aggregation: Aggregation = "sum"): void => {
  TaskContext.get()?.counters.update(name, value, aggregation)
}
