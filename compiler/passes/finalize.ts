import * as Digest from "../../plan/Digest.ts"
import type * as Implementation from "../../executable/Implementation.ts"
import * as Op from "../../plan/Op.ts"
import type * as Plan from "../../plan/Plan.ts"
import type * as SourceLocation from "../../plan/SourceLocation.ts"
import * as Stage from "../../plan/Stage.ts"
import type { PartitionedStage } from "./partition.ts"
import { OpKind } from "../../plan/OpKind.ts"

const shardText = (n: number | null) => (n === null ? "one shard per input shard" : `${n} shard${n === 1 ? "" : "s"}`)

const boundaryDetail = (stage: PartitionedStage): string => {
  const op = stage.boundary.op
  switch (stage.boundary.reason) {
    case "shuffle": return `shuffle: ${op ? Op.label(op) : "groupBy"} → ${shardText(stage.shards.out)}`
    case "reshard": return op?.kind === "reshard" ? `reshard(${op.n})` : `reshard(1) for ${op ? Op.label(op) : "fold"}`
    case "fold": return `fold: ${op ? Op.label(op) : "reduce"} → reshard(1)`
    case "join": return stage.joinedBy === undefined ? "join" : `join: right side of the sortedMergeJoin in stage ${stage.joinedBy}`
    case "end": return op?.kind === OpKind.write ? `end: ${Op.label(op)}` : "end"
  }
}

// The fingerprint must not depend on where the checkout lives, what files exist now, or
// where a call sits in its file: moving code or adding a comment changes no result.
const fingerprintView = (stages: ReadonlyArray<Omit<Stage.Stage, "shards" | "fingerprint">>) =>
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

/** A DSL call whose code runs in a stage; `skip`: positions of its arguments that run in another stage. */
export interface StageCall {
  readonly id: string
  readonly source: SourceLocation.SourceLocation
  readonly skip: ReadonlyArray<number>
}

/** The code hash of each stage, given the calls whose code runs in it (see CodeHash.ofStages). */
export type StageCode = (stages: ReadonlyArray<ReadonlyArray<StageCall>>) => ReadonlyArray<string>

// A groupBy's key function runs in its scatter stage, its reducer in its reduce stage; a
// reduce's global reducer never runs in its local stage (its local one may run in its
// global stage: it is the default global reducer).
const skipped = (op: Op.Op): ReadonlyArray<number> =>
  op.kind === OpKind.groupBy ? (op.role === "scatter" ? [1] : [0]) : op.kind === OpKind.reduce && op.role === "local" ? [1] : []

const callsOf = (stage: PartitionedStage): Array<StageCall> => [
  ...(stage.input.kind === "source" ? [{ id: stage.input.source.id, source: stage.input.source.source, skip: [] }] : []),
  ...stage.ops.map((op) => ({ id: op.id, source: op.source, skip: skipped(op) }))
]

// A stage's own part of its fingerprint. Op ids, stage ids and source lines are left out:
// they shift when code is added elsewhere, and the stages it reads are chained in by their
// fingerprints instead.
const stageView = (stage: PartitionedStage, implementations: Implementation.Table, code: string) => ({
  kind: stage.joinRight ? "join-right" : stage.base,
  base: stage.base,
  input: stage.input.kind === "source" ? { kind: "source", source: { ...stage.input.source, id: null, source: null } } : { kind: stage.input.kind },
  ops: stage.ops.map(({ id: _id, source: _source, ...op }) => ({
    ...op,
    ...("pushedInto" in op ? { pushedInto: op.pushedInto !== undefined } : {}),
    ...(op.kind === OpKind.sortedMergeJoin ? { rightStage: null } : {})
  })),
  boundary: stage.boundary.reason,
  data: callsOf(stage).map(({ id }) => {
    const impl = implementations.get(id)
    return impl?.kind === "list" ? impl.items : impl?.kind === "windowBy" ? impl.initial : null
  }),
  code
})

/**
 * Pass 6: stage kinds (`join-right` for every stage computing a join's right side),
 * boundary sentences, and two fingerprints:
 * - the plan's: a hash of its structure (stages, op ids, kinds, names, parameters), of the
 *   data baked into it and of the code of every DSL call (`code`: op id → code hash), so a
 *   worker can prove it rebuilt the same plan from the same code;
 * - each stage's: a hash of its own ops, data and code (`stageCode`) chained with the
 *   fingerprints of the stages it reads, so a change upstream changes it and a change
 *   downstream does not.
 */
export const finalize = (
  stages: ReadonlyArray<PartitionedStage>,
  implementations: Implementation.Table,
  code: Readonly<Record<string, string>>,
  stageCode: StageCode
): Plan.Plan => {
  const codes = stageCode(stages.map(callsOf))
  const fingerprints: Array<string> = []
  const final: Array<Stage.Stage> = stages.map((s, i) => {
    const reads = Stage.reads(s).map((r) => {
      const read = fingerprints[r]
      if (read === undefined) throw new Error(`Internal: stage ${s.id} reads stage ${r}, which does not come before it`)
      return read
    })
    const fingerprint = Digest.digest({ own: stageView(s, implementations, codes[i] ?? ""), reads })
    fingerprints.push(fingerprint)
    const stage: Stage.Stage = {
      id: s.id,
      kind: s.joinRight ? "join-right" : s.base,
      base: s.base,
      input: s.input,
      ops: s.ops,
      boundary: { reason: s.boundary.reason, detail: boundaryDetail(s) },
      shards: s.shards,
      fingerprint
    }
    return s.joinedBy === undefined ? stage : { ...stage, joinedBy: s.joinedBy }
  })
  const structure = fingerprintView(final.map(({ shards: _shards, fingerprint: _fingerprint, ...rest }) => rest))
  return { version: 1, fingerprint: Digest.digest({ structure, data: planData(implementations), code }), stages: final }
}
