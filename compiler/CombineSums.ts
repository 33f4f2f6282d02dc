import type * as Op from "../plan/Op.ts"
import { OpKind } from "../plan/OpKind.ts"
import type * as Plan from "../plan/Plan.ts"

/**
 * Combining by adding numbers: a groupBy whose combiner only sums fields of its items into
 * the same fields of the one item it returns (word count's `[sumCounts(word, items)]`), as
 * the module's static analysis found (Accumulation's combiner-sums facts, matched to the op
 * by the location of its call). Its scatter then keeps, per key, those sums as numbers and
 * adds each arriving item's fields to them, and calls the combiner once per key when it
 * writes, with one item holding the sums: the same partial result as calling it for every
 * item, without an array and an object made per item (PartialTable).
 *
 * Like ReadColumns, it applies after the compiler's passes, so the plan's fingerprint does
 * not change; the driver gives the sums to workers with the job, and without the checks
 * (`--no-check`, or a plan run from a library call) the combiner runs for every item.
 */

/** The fields each scatter's combiner sums, by op id. */
export type CombineSums = Readonly<Record<string, ReadonlyArray<string>>>

const isCombiningScatter = (op: Op.Op): boolean =>
  op.kind === OpKind.groupBy && op.role === "scatter" && op.combiner !== null && !op.sortBy

/** The fields each combining scatter's combiner sums (`sums`: what an op's combiner sums, undefined when it does more). */
export const infer = (plan: Plan.Plan, sums: (op: Op.Op) => ReadonlyArray<string> | undefined): Record<string, Array<string>> => {
  const out: Record<string, Array<string>> = {}
  for (const op of plan.stages.flatMap((stage) => stage.ops)) {
    const fields = isCombiningScatter(op) ? sums(op) : undefined
    if (fields !== undefined && fields.length > 0) out[op.id] = [...fields]
  }
  return out
}

/** The plan with each listed scatter summing in place (`combinerSums`); the same fingerprint. */
export const apply = (plan: Plan.Plan, sums: CombineSums): Plan.Plan => ({
  ...plan,
  stages: plan.stages.map((stage) => ({
    ...stage,
    ops: stage.ops.map((op) => (isCombiningScatter(op) && sums[op.id] !== undefined ? { ...op, combinerSums: [...sums[op.id]!] } : op))
  }))
})
