import { Schema } from "effect"
import * as Op from "./Op.ts"
import { OpKind } from "./OpKind.ts"
import * as Source from "./Source.ts"
import * as Stage from "./Stage.ts"

/**
 * The plan: the single contract between the DSL and the runtime. Stages are in execution
 * order (a join's right side comes before the stage that joins it); the last stage's
 * output, flattened in shard order, is the pipeline's result.
 */
export const Plan = Schema.Struct({
  version: Schema.Literal(1),
  fingerprint: Schema.String,
  stages: Schema.Array(Stage.Stage)
})
export type Plan = typeof Plan.Type

/** The number of shards each source produces, when known. */
export type SourceCounter = (source: Source.Source) => number | null

const fromListCount: SourceCounter = (s) => (s.kind === "list" ? s.count : null)

/**
 * Shard counts of every stage, given how many shards each source produces. Used by the
 * compiler (with a best-effort glob) and by the coordinator (with the real file list), so
 * that both agree on the rule: a map stage keeps its shard count, a scatter produces its
 * groupBy's `numOutputShards` (default: its input count), a reshard produces `n`.
 */
export const shardCounts = (
  stages: ReadonlyArray<Pick<Stage.Stage, "input" | "ops">>,
  count: SourceCounter = fromListCount
): Array<Stage.Shards> => {
  const out: Array<Stage.Shards> = []
  for (const stage of stages) {
    const input = stage.input
    const shardsIn = input.kind === "source" ? count(input.source) : (out[input.stage]?.out ?? null)
    out.push({ in: shardsIn, out: outputShards(stage, shardsIn) })
  }
  return out
}

const outputShards = (stage: Pick<Stage.Stage, "input" | "ops">, shardsIn: number | null): number | null => {
  if (stage.input.kind === "reshard") {
    const op = stage.ops[0]
    return op?.kind === OpKind.reshard ? op.n : 1
  }
  const last = stage.ops[stage.ops.length - 1]
  if (last && (last.kind === OpKind.groupBy || last.kind === OpKind.deduplicate) && last.role === "scatter") {
    return last.numOutputShards ?? shardsIn
  }
  return shardsIn
}

export const scatterOp = (stage: Pick<Stage.Stage, "ops">): Op.OfKind<"groupBy" | "deduplicate"> | undefined => {
  const last = stage.ops[stage.ops.length - 1]
  return last && (last.kind === OpKind.groupBy || last.kind === OpKind.deduplicate) && last.role === "scatter" ? last : undefined
}

export const outputStage = (plan: Plan): Stage.Stage | undefined => plan.stages[plan.stages.length - 1]

/** Every op of the plan, stage by stage. */
export const ops = (plan: Plan): Array<Op.Op> => plan.stages.flatMap((s) => s.ops)
