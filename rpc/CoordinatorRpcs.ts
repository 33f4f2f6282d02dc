import { Rpc, RpcGroup } from "@effect/rpc"
import { Schema } from "effect"
import { ZephyrFingerprintError, ZephyrInfraError, ZephyrWorkerError } from "../plan/Errors.ts"
import * as StatusSnapshot from "../runtime/coordinator/StatusSnapshot.ts"
import { JobSpec, PullResponse, Report } from "./Protocol.ts"
import { Session } from "./Session.ts"

/**
 * The coordinator's RPC group. A worker says Hello (learns the job), Registers with the
 * fingerprint of the plan it rebuilt, then Pulls: each Pull carries the reports of its
 * finished tasks, so a result is recorded before the worker gets more work. Heartbeats
 * travel on their own fiber and are never queued behind a Pull. Every call goes through the
 * Session middleware: nothing but a Hello with the run's token is answered before that
 * Hello (see Transport for the whole auth model).
 */
export class CoordinatorRpcs extends RpcGroup.make(
  Rpc.make("Hello", { payload: { workerId: Schema.String, token: Schema.String }, success: JobSpec, error: ZephyrInfraError }),
  Rpc.make("Register", {
    payload: { workerId: Schema.String, fingerprint: Schema.String, pid: Schema.Number, host: Schema.String, incarnation: Schema.optional(Schema.String) },
    success: Schema.Struct({ executionId: Schema.String }),
    error: Schema.Union(ZephyrFingerprintError, ZephyrInfraError)
  }),
  Rpc.make("Pull", {
    payload: { workerId: Schema.String, reports: Schema.Array(Report), max: Schema.Number, incarnation: Schema.optional(Schema.String) },
    success: PullResponse
  }),
  Rpc.make("Heartbeat", {
    payload: { workerId: Schema.String, incarnation: Schema.optional(Schema.String) },
    success: Schema.Struct({ known: Schema.Boolean })
  }),
  /** Where the execution is; with `stage`, only that stage's progress, counters and retries. */
  Rpc.make("Status", { payload: { stage: Schema.optional(Schema.Number) }, success: StatusSnapshot.Snapshot }),
  /** A worker that cannot work for a reason every worker would share (its module or layer fails): the run fails. */
  Rpc.make("Abort", { payload: { workerId: Schema.String, error: ZephyrWorkerError } })
).middleware(Session) {}
