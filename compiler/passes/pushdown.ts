import * as Expr from "../../plan/Expr.ts"
import type * as Op from "../../plan/Op.ts"
import { isLoad, OpKind } from "../../plan/OpKind.ts"
import type { StageDraft } from "./fuse.ts"

/**
 * Pass 4: a run of `filter(col(...))` and `select(...)` right after a load is pushed into
 * the reader: the load learns which columns it must read and which rows it may skip.
 * The ops stay in the stage and still run (both are idempotent), so results never depend
 * on how much a reader can skip; a function filter or any other op ends the run, because
 * it may read columns a projection would drop.
 */
export const pushdown = (stages: ReadonlyArray<StageDraft>): ReadonlyArray<StageDraft> =>
  stages.map((stage) => {
    const load = stage.ops[0]
    if (!load || !isLoad(load.kind) || load.kind === OpKind.loadText) return stage
    const l = load as Op.OfKind<"loadFile" | "loadJsonl" | "loadParquet" | "loadCsv">
    const ops = [...stage.ops]
    const filters: Array<Expr.Expr> = []
    let columns: Set<string> | null = l.columns ? new Set(l.columns) : null
    const filterColumns = new Set<string>()
    for (let i = 1; i < ops.length; i++) {
      const op = ops[i]!
      if (op.kind === OpKind.filter && op.expr) {
        const refs = Expr.columns(op.expr)
        // After a projection a filter on a dropped column sees null; on the raw row it would
        // not, so such a filter is not a valid reader hint.
        if (columns && [...refs].some((c) => !columns!.has(c))) break
        filters.push(op.expr)
        for (const c of refs) filterColumns.add(c)
        ops[i] = { ...op, pushedInto: l.id }
      } else if (op.kind === OpKind.select) {
        const selected = new Set(op.columns.filter((c) => !columns || columns.has(c)))
        columns = selected
        ops[i] = { ...op, pushedInto: l.id }
      } else break
    }
    if (filters.length === 0 && columns === null) return stage
    const filter = filters.reduce<Expr.Expr | null>((acc, e) => (acc ? { op: "and", left: acc, right: e } : e), l.filter)
    const read = columns ? [...new Set([...columns, ...filterColumns])] : null
    ops[0] = { ...l, columns: read, filter }
    return { ...stage, ops }
  })
