import { Schema } from "effect"

/**
 * Errors shared by every layer. They are Schema classes so they cross RPC intact, and
 * their fields say where the problem is (stage, shard, attempt, worker, file, line).
 */

/**
 * Every error carries a `reason`: the kind of failure as a literal, so that callers and
 * tests branch on it instead of matching message text.
 */

export const BuildReason = Schema.Literal("invalid-argument")
export type BuildReason = typeof BuildReason.Type

/** An invalid argument to a DSL call, thrown while the pipeline is built. */
export class ZephyrBuildError extends Schema.TaggedError<ZephyrBuildError>()("ZephyrBuildError", {
  reason: BuildReason,
  message: Schema.String,
  method: Schema.String,
  file: Schema.String,
  line: Schema.Number
}) {}

export const PlanReason = Schema.Literal(
  /** A run option or CLI flag has an invalid value. */
  "invalid-option",
  "unknown-backend",
  "module-not-found",
  "module-import-failed",
  "missing-export",
  /** The module's builder function threw. */
  "builder-failed",
  "not-a-dataset",
  "invalid-layer",
  /** The dataset's steps do not form a pipeline (no source, a source in the middle). */
  "invalid-pipeline",
  /** A worker was asked to rebuild a plan that has no module. */
  "no-module",
  /** A file source's glob pattern cannot be compiled (a reversed range such as [z-a]). */
  "invalid-glob",
  /** `--resume` names no execution in the chunk directory (or a directory Zephyr did not create). */
  "unknown-execution",
  /** The module's static checks found errors (see compiler/analysis/): nothing was started. */
  "failed-checks",
  /** An object storage URL (`s3://bucket/key`) that names no bucket or is malformed. */
  "invalid-url"
)
export type PlanReason = typeof PlanReason.Type

/** The plan cannot be compiled (a module that exports no dataset, a broken join, ...). */
export class ZephyrPlanError extends Schema.TaggedError<ZephyrPlanError>()("ZephyrPlanError", {
  reason: PlanReason,
  message: Schema.String,
  file: Schema.optional(Schema.String),
  line: Schema.optional(Schema.Number)
}) {}

export const WorkerReason = Schema.Literal(
  /** A user function threw. */
  "user-code",
  /** A file's data or the options it is read or written with are wrong. */
  "bad-data",
  /** An input file or glob match is missing. */
  "missing-input",
  /** Inputs that cannot be combined as asked (a join of unequal shard counts). */
  "invalid-input",
  /** A worker could not rebuild the pipeline or its layer and aborted the run. */
  "aborted",
  /** A worker process hit its heap limit holding the same shard `maxShardFailures` times. */
  "out-of-memory",
  /**
   * No worker is left to run the outstanding shards: none alive for `noWorkersTimeout`, or
   * the pool terminated for good. Not retried as a pipeline: a fresh pool would most
   * likely die the same way, and each retry would wait the timeout again.
   */
  "no-workers",
  /**
   * A worker refused a task it was handed: malformed, or naming a path outside the
   * execution's directory (a coordinator of another version, or not ours).
   */
  "invalid-task",
  /** A bug in Zephyr itself, or a failure of its machinery (a disk error in chunk storage, retried as an infrastructure failure). */
  "internal",
  /**
   * Object storage refused a request or could not be reached: access denied, a missing
   * bucket, no credentials, a bad endpoint. The message names the URL and the option to fix.
   */
  "storage-access"
)
export type WorkerReason = typeof WorkerReason.Type

/**
 * User code or data failed (a thrown error, a bad row, a missing file, an unsupported
 * extension), or the run cannot go on with what it was given (no workers left, a shard
 * that does not fit in a worker's memory). Never retried as a whole pipeline.
 */
export class ZephyrWorkerError extends Schema.TaggedError<ZephyrWorkerError>()("ZephyrWorkerError", {
  reason: WorkerReason,
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

export const InfraReason = Schema.Literal(
  /** A worker presented a wrong token or called before saying hello. */
  "unauthenticated",
  /** A worker joined an execution that has already ended. */
  "execution-ended",
  /** The coordinator could not listen on its address. */
  "listen-failed",
  /** The backend cannot run this plan (a dataset without a module on worker processes). */
  "unsupported-backend",
  /** A shard lost its worker (or hit a disk error) maxShardInfraFailures times. */
  "shard-infra-failures",
  /** No worker registered at all: the pool never came up (a fresh one may). */
  "registration-timeout",
  /** Chunk storage or the inputs' listing failed. */
  "storage",
  /** The chunk directory is not private to the user (another owner, group- or world-writable). */
  "unsafe-chunk-dir",
  /** Another live driver holds the execution's lock. */
  "execution-locked",
  /** A call to the Kubernetes API failed (no kubeconfig, forbidden, unreachable, refused). */
  "kubernetes-api",
  /** A cluster scheduler refused to start the workers (sbatch failed). */
  "launch-failed",
  /** A worker process was replaced by a newer process registered under the same worker id. */
  "worker-replaced"
)
export type InfraReason = typeof InfraReason.Type

/**
 * The machinery failed (workers lost, coordinator unreachable, storage broken). A pipeline
 * may be retried with fresh actors after one of these.
 */
export class ZephyrInfraError extends Schema.TaggedError<ZephyrInfraError>()("ZephyrInfraError", {
  reason: InfraReason,
  message: Schema.String,
  stage: Schema.optional(Schema.Number),
  shard: Schema.optional(Schema.Number),
  retryable: Schema.Boolean
}) {}

/** A worker rebuilt a different plan than the coordinator's. */
export class ZephyrFingerprintError extends Schema.TaggedError<ZephyrFingerprintError>()("ZephyrFingerprintError", {
  reason: Schema.Literal("plan-mismatch"),
  message: Schema.String,
  expected: Schema.String,
  actual: Schema.String,
  worker: Schema.optional(Schema.String)
}) {}

export const ZephyrError = Schema.Union(ZephyrBuildError, ZephyrPlanError, ZephyrWorkerError, ZephyrInfraError, ZephyrFingerprintError)
export type ZephyrError = typeof ZephyrError.Type

/** The same worker error with another message (keeps stage, shard, op, file, line, cause), and `extra` fields (the worker, say). */
export const withMessage = (e: ZephyrWorkerError, message: string, extra: Partial<Omit<ConstructorParameters<typeof ZephyrWorkerError>[0], "message">> = {}): ZephyrWorkerError => {
  const { _tag: _t, message: _m, ...fields } = { ...e } as ZephyrWorkerError & Record<string, unknown>
  void _t; void _m
  return new ZephyrWorkerError({ ...(fields as Omit<ConstructorParameters<typeof ZephyrWorkerError>[0], "message">), ...extra, message })
}
