import * as Digest from "../plan/Digest.ts"
import type * as Implementation from "../plan/Implementation.ts"
import * as Op from "../plan/Op.ts"
import type * as Plan from "../plan/Plan.ts"
import * as SourceLocation from "../plan/SourceLocation.ts"
import type * as Stage from "../plan/Stage.ts"
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

// The fingerprint must not depend on where the checkout lives or what files exist now.
const fingerprintView = (stages: ReadonlyArray<Omit<Stage.Stage, "shards">>) =>
  stages.map((s) => ({
    ...s,
    input: s.input.kind === "source" ? { ...s.input, source: { ...s.input.source, source: stableLoc(s.input.source.source) } } : s.input,
    ops: s.ops.map((op) => ({ ...op, source: stableLoc(op.source) }))
  }))

const stableLoc = (loc: SourceLocation.SourceLocation) => ({ file: loc.file.split(/[\\/]/).pop() ?? loc.file, line: loc.line })

// Data baked into the plan: list items and windowBy initial states. Function sources are
// left out on purpose: the same module transformed by two loaders (tsx in a worker, vite
// under a test runner) prints different source text for the same function.
const planData = (implementations: Implementation.Table) =>
  [...implementations]
    .filter(([, impl]) => impl.kind === "list" || impl.kind === "windowBy")
    .map(([id, impl]) => [id, impl.kind === "list" ? impl.items : impl.kind === "windowBy" ? impl.initial : null] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))

/**
 * Pass 6: stage kinds (`join-right` for every stage computing a join's right side),
 * boundary sentences, and the fingerprint: a hash of the plan's structure (stages, op
 * ids, kinds, names, parameters, source lines) and of the data baked into it, so a worker
 * can prove it rebuilt the same plan.
 */
export const finalize = (stages: ReadonlyArray<PartitionedStage>, implementations: Implementation.Table): Plan.Plan => {
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
  return { version: 1, fingerprint: Digest.digest({ structure, data: planData(implementations) }), stages: final }
}
