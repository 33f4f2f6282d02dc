import * as Digest from "../../plan/Digest.ts"
import type * as Implementation from "../../executable/Implementation.ts"
import * as Op from "../../plan/Op.ts"
import type * as Plan from "../../plan/Plan.ts"
import type * as Stage from "../../plan/Stage.ts"
import type { PartitionedStage } from "./partition.ts"

const shardText = (n: number | null) => (n === null ? "one shard per input shard" : `${n} shard${n === 1 ? "" : "s"}`)

const boundaryDetail = (stage: PartitionedStage): string => {
  const op = stage.boundary.op
  switch (stage.boundary.reason) {
    case "shuffle": return `shuffle: ${op ? Op.label(op) : "groupBy"} → ${shardText(stage.shards.out)}`
    case "reshard": return op?.kind === "reshard" ? `reshard(${op.n})` : `reshard(1) for ${op ? Op.label(op) : "fold"}`
    case "fold": return `fold: ${op ? Op.label(op) : "reduce"} → reshard(1)`
    case "join": return stage.joinedBy === undefined ? "join" : `join: right side of the sortedMergeJoin in stage ${stage.joinedBy}`
    case "end": return op?.kind === "write" ? `end: ${Op.label(op)}` : "end"
  }
}

// The fingerprint must not depend on where the checkout lives, what files exist now, or
// where a call sits in its file: moving code or adding a comment changes no result.
const fingerprintView = (stages: ReadonlyArray<Omit<Stage.Stage, "shards">>) =>
  stages.map((s) => ({
    ...s,
    input: s.input.kind === "source" ? { ...s.input, source: { ...s.input.source, source: null } } : s.input,
    ops: s.ops.map((op) => ({ ...op, source: null }))
  }))

// Data baked into the plan: list items and windowBy initial states. Functions are covered
// by their code hashes, read from the TypeScript source (see CodeHash), not by their printed
// text: two loaders (tsx in a worker, vite under a test runner) print the same function differently.
const planData = (implementations: Implementation.Table) =>
  [...implementations]
    .filter(([, impl]) => impl.kind === "list" || impl.kind === "windowBy")
    .map(([id, impl]) => [id, impl.kind === "list" ? impl.items : impl.kind === "windowBy" ? impl.initial : null] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/**
 * Pass 6: stage kinds (`join-right` for every stage computing a join's right side),
 * boundary sentences, and the fingerprint: a hash of the plan's structure (stages, op
 * ids, kinds, names, parameters), of the data baked into it and of the code
 * of every DSL call (`code`: op id → code hash), so a worker can prove it rebuilt the same
 * plan from the same code.
 */
export const finalize = (stages: ReadonlyArray<PartitionedStage>, implementations: Implementation.Table, code: Readonly<Record<string, string>>): Plan.Plan => {
  const final: Array<Stage.Stage> = stages.map((s) => {
    const stage: Stage.Stage = {
      id: s.id,
      kind: s.joinRight ? "join-right" : s.base,
      base: s.base,
      input: s.input,
      ops: s.ops,
      boundary: { reason: s.boundary.reason, detail: boundaryDetail(s) },
      shards: s.shards
    }
    return s.joinedBy === undefined ? stage : { ...stage, joinedBy: s.joinedBy }
  })
  const structure = fingerprintView(final.map(({ shards: _shards, ...rest }) => rest))
  return { version: 1, fingerprint: Digest.digest({ structure, data: planData(implementations), code }), stages: final }
}
