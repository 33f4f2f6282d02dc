import { Schema } from "effect"

/**
 * Errors shared by every layer. They are Schema classes so they cross RPC intact, and
 * their fields say where the problem is (stage, shard, attempt, worker, file, line).
 */

/** An invalid argument to a DSL call, thrown while the pipeline is built. */
export class ZephyrBuildError extends Schema.TaggedError<ZephyrBuildError>()("ZephyrBuildError", {
  message: Schema.String,
  method: Schema.String,
  file: Schema.String,
  line: Schema.Number
}) {}

/** The plan cannot be compiled (a module that exports no dataset, a broken join, ...). */
export class ZephyrPlanError extends Schema.TaggedError<ZephyrPlanError>()("ZephyrPlanError", {
  message: Schema.String,
  file: Schema.optional(Schema.String),
  line: Schema.optional(Schema.Number)
}) {}

/**
 * User code or data failed: a thrown error, a bad row, a missing file, an unsupported
 * extension. Never retried as a whole pipeline.
 */
export class ZephyrWorkerError extends Schema.TaggedError<ZephyrWorkerError>()("ZephyrWorkerError", {
  message: Schema.String,
  stage: Schema.optional(Schema.Number),
  shard: Schema.optional(Schema.Number),
  attempt: Schema.optional(Schema.Number),
  worker: Schema.optional(Schema.String),
  op: Schema.optional(Schema.String),
  file: Schema.optional(Schema.String),
  line: Schema.optional(Schema.Number),
  /** The original error's name and stack, for the user's eyes. */
  cause: Schema.optional(Schema.String)
}) {}

/**
 * The machinery failed (workers lost, coordinator unreachable, storage broken). A pipeline
 * may be retried with fresh actors after one of these.
 */
export class ZephyrInfraError extends Schema.TaggedError<ZephyrInfraError>()("ZephyrInfraError", {
  message: Schema.String,
  stage: Schema.optional(Schema.Number),
  shard: Schema.optional(Schema.Number),
  retryable: Schema.Boolean
}) {}

/** A worker rebuilt a different plan than the coordinator's. */
export class ZephyrFingerprintError extends Schema.TaggedError<ZephyrFingerprintError>()("ZephyrFingerprintError", {
  message: Schema.String,
  expected: Schema.String,
  actual: Schema.String,
  worker: Schema.optional(Schema.String)
}) {}

export const ZephyrError = Schema.Union(ZephyrBuildError, ZephyrPlanError, ZephyrWorkerError, ZephyrInfraError, ZephyrFingerprintError)
export type ZephyrError = typeof ZephyrError.Type

/** The same worker error with another message (keeps stage, shard, op, file, line, cause). */
export const withMessage = (e: ZephyrWorkerError, message: string): ZephyrWorkerError => {
  const { _tag: _t, message: _m, ...fields } = { ...e } as ZephyrWorkerError & Record<string, unknown>
  void _t; void _m
  return new ZephyrWorkerError({ ...(fields as Omit<ConstructorParameters<typeof ZephyrWorkerError>[0], "message">), message })
}
