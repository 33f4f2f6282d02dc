/**
 * Zephyr: a typed dataflow engine for large batch data jobs.
 *
 *   import { Dataset, Zephyr, col, Counters, Shared, Pipeline } from "zephyr"
 */
export { Dataset } from "./dsl/Dataset.ts"
export type { Flatten, Key, OutputPattern, ReadOptions, Row, ShardInfo, WriteOptions } from "./dsl/Dataset.ts"
export { col, lit, ColumnExpr } from "./dsl/Expr.ts"
export * as Counters from "./dsl/Counters.ts"
export * as Shared from "./dsl/Shared.ts"
export * as Pipeline from "./Pipeline.ts"
export * as Zephyr from "./Zephyr.ts"
export { diskCache } from "./runtime/DiskCache.ts"
export * as DiskCache from "./runtime/DiskCache.ts"
export { CompiledPlan } from "./compiler/Compiler.ts"
export * as Plan from "./Plan.ts"
export * as Diagnostic from "./compiler/analysis/Diagnostic.ts"
export * as Advice from "./compiler/analysis/Advice.ts"
export {
  ZephyrBuildError, ZephyrError, ZephyrFingerprintError, ZephyrInfraError, ZephyrPlanError, ZephyrWorkerError
} from "./plan/Errors.ts"
