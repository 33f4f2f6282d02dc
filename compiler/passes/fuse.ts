import type { LogicalOp, Lowered, Pipeline } from "../Logical.ts"
import type * as Op from "../../plan/Op.ts"
import { OpKind } from "../../plan/OpKind.ts"
import type * as Stage from "../../plan/Stage.ts"

/** A stage before shard counts, kinds and boundary sentences are known. */
export interface StageDraft {
  readonly id: number
  readonly base: Stage.BaseKind
  readonly joinRight: boolean
  readonly joinedBy: number | undefined
  readonly input: Stage.Input
  readonly ops: ReadonlyArray<Op.Op>
  readonly boundary: { readonly reason: Stage.BoundaryReason; readonly op: Op.Op | undefined }
}

/**
 * Pass 3: cut the op list into stages. Every maximal run of element-wise ops is one stage;
 * a groupBy/deduplicate ends a stage with its scatter and the next begins with its reduce;
 * reduce/count become fold → reshard(1) → fold; reshard is a stage of its own (run by the
 * coordinator); a write closes its stage; a join adds no boundary, its right side is
 * planned first so that its stages come before the stage that joins.
 */
export const fuse = (lowered: Lowered): ReadonlyArray<StageDraft> => {
  const stages: Array<StageDraft> = []

  const plan = (pipeline: Pipeline, joinRight: boolean): number => {
    let input: Stage.Input = { kind: "source", source: pipeline.source }
    let base: Stage.BaseKind = "map"
    let ops: Array<Op.Op> = []
    const joined: Array<number> = []

    const close = (reason: Stage.BoundaryReason, op?: Op.Op): number => {
      const id = stages.length
      stages.push({ id, base, joinRight, joinedBy: undefined, input, ops, boundary: { reason, op } })
      for (const right of joined.splice(0)) stages[right] = { ...stages[right]!, joinedBy: id }
      ops = []
      return id
    }
    const startAfter = (stage: number, kind: "stage" | "shuffle" | "reshard", nextBase: Stage.BaseKind, first: ReadonlyArray<Op.Op> = []) => {
      input = { kind, stage }
      base = nextBase
      ops = [...first]
    }

    pipeline.ops.forEach((lop: LogicalOp, i) => {
      const last = i === pipeline.ops.length - 1
      switch (lop.t) {
        case "op":
          ops.push(lop.op)
          if (lop.op.kind === OpKind.write && !last) startAfter(close("end", lop.op), "stage", "map")
          return
        case "shuffle":
          ops.push({ ...lop.op, role: "scatter" })
          startAfter(close("shuffle", lop.op), "shuffle", "reduce", [{ ...lop.op, role: "reduce" }])
          return
        case "fold": {
          ops.push({ ...lop.op, role: "local" })
          startAfter(close("fold", lop.op), "reshard", "reshard", [{ ...lop.op, role: "reshard" }])
          startAfter(close("reshard", lop.op), "stage", "fold", [{ ...lop.op, role: "global" }])
          return
        }
        case "reshard":
          startAfter(close("reshard", lop.op), "reshard", "reshard", [lop.op])
          startAfter(close("reshard", lop.op), "stage", "map")
          return
        case "join": {
          const right = plan(lop.right, true)
          joined.push(right)
          ops.push({ ...lop.op, rightStage: right })
          return
        }
      }
    })

    const end: Stage.BoundaryReason = joinRight ? "join" : "end"
    const previous = stages[stages.length - 1]
    const current = input as Stage.Input // assigned inside the closures above
    // Nothing left after a reshard or a mid-pipeline write: the previous stage is the output.
    if (ops.length === 0 && current.kind === "stage" && previous && previous.id === current.stage) {
      stages[previous.id] = { ...previous, boundary: { reason: end, op: previous.boundary.op } }
      return previous.id
    }
    return close(end, ops[ops.length - 1])
  }

  plan(lowered.pipeline, false)
  return stages
}
