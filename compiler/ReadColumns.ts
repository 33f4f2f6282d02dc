import * as Expr from "../plan/Expr.ts"
import type * as Op from "../plan/Op.ts"
import { isLoad, OpKind } from "../plan/OpKind.ts"
import type * as Plan from "../plan/Plan.ts"

/**
 * Projection by the code: a stage that reads files and then runs functions that read only
 * some fields of each row (a filter on `r.kind`, then a map that keeps `r.key`) needs only
 * those fields from its reader. A JSONL reader then skips the other values instead of
 * copying them into every row, and Parquet reads only those columns.
 *
 * What each function reads comes from the module's static analysis (FieldFlow's item-reads
 * facts, matched to the ops by the location of their call), which runs with the checks; so
 * it applies after the compiler's passes, to a compiled plan, and the plan's fingerprint
 * does not change. The driver gives the columns to workers with the job (JobSpec), and each
 * applies them to the plan it rebuilt. Without the checks (`--no-check`, or a plan run from
 * a library call) every field is read, as before.
 *
 * The stage must reach a function that makes new items (map, flatMap) through filters only,
 * each reading known fields: a row that went on whole (to a groupBy, a writer, a mapShard)
 * would lose its other fields.
 */

/** The columns each load op reads, by op id. */
export type ReadColumns = Readonly<Record<string, ReadonlyArray<string>>>

type Load = Op.OfKind<"loadFile" | "loadJsonl" | "loadParquet" | "loadCsv" | "loadText">

const loadOf = (op: Op.Op | undefined): Load | undefined => (op !== undefined && isLoad(op.kind) ? (op as Load) : undefined)

/**
 * The columns of each load whose rows go only to functions with known reads (`reads`: the
 * fields an op's function reads, undefined when unknown). Loads that already read given
 * columns (a pushed-down select), that decode rows with a schema (which may need any
 * field), or that read text lines, are left alone.
 */
export const infer = (plan: Plan.Plan, reads: (op: Op.Op) => ReadonlyArray<string> | undefined): Record<string, Array<string>> => {
  const out: Record<string, Array<string>> = {}
  for (const stage of plan.stages) {
    const load = loadOf(stage.ops[0])
    if (load === undefined || load.kind === OpKind.loadText || load.columns !== null || load.schema !== null) continue
    const fields = new Set<string>()
    let known = false
    for (const op of stage.ops.slice(1)) {
      if (op.kind === OpKind.filter) {
        const read = op.expr !== null ? [...Expr.columns(op.expr)] : reads(op)
        if (read === undefined) break
        for (const f of read) fields.add(f)
        continue
      }
      if (op.kind === OpKind.map || op.kind === OpKind.flatMap) {
        const read = reads(op)
        if (read !== undefined) {
          for (const f of read) fields.add(f)
          known = true
        }
      }
      break
    }
    if (known) out[load.id] = [...fields].sort()
  }
  return out
}

/**
 * The plan with each listed load reading only its columns (`columnsInferred`); the same
 * fingerprint. An id that is not a load reading every column is left out: a worker whose
 * plan differs is refused by its fingerprint anyway.
 */
export const apply = (plan: Plan.Plan, columns: ReadColumns): Plan.Plan => {
  if (Object.keys(columns).length === 0) return plan
  return {
    ...plan,
    stages: plan.stages.map((stage) => {
      const load = loadOf(stage.ops[0])
      const read = load === undefined ? undefined : columns[load.id]
      if (load === undefined || read === undefined || load.kind === OpKind.loadText || load.columns !== null || load.schema !== null) return stage
      return { ...stage, ops: [{ ...load, columns: [...read], columnsInferred: true }, ...stage.ops.slice(1)] }
    })
  }
}
