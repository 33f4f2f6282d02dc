/**
 * The public `Plan` namespace: the plan's modules (plan/), and beside them what pairs a
 * plan with the code that runs it: the implementation table and the executable
 * (executable/), the task context user code runs in and its counters (runtime/task/).
 */
export * from "./plan/index.ts"
export * as CounterSet from "./runtime/task/CounterSet.ts"
export * as Executable from "./executable/Executable.ts"
export * as Implementation from "./executable/Implementation.ts"
export * as TaskContext from "./runtime/task/TaskContext.ts"
