import * as PlanExpr from "../plan/Expr.ts"

type Operand = ColumnExpr | PlanExpr.Literal

const toExpr = (v: Operand): PlanExpr.Expr => (v instanceof ColumnExpr ? v.expr : { op: "lit", value: v })

/**
 * A column expression built with `col(name)`: evaluated on rows, and pushed into readers
 * when a `filter` or `select` directly follows a load.
 */
export class ColumnExpr {
  constructor(readonly expr: PlanExpr.Expr) {}
  private bin(op: PlanExpr.BinaryOp, other: Operand): ColumnExpr {
    return new ColumnExpr({ op, left: this.expr, right: toExpr(other) })
  }
  eq(v: Operand): ColumnExpr { return this.bin("eq", v) }
  ne(v: Operand): ColumnExpr { return this.bin("ne", v) }
  gt(v: Operand): ColumnExpr { return this.bin("gt", v) }
  ge(v: Operand): ColumnExpr { return this.bin("ge", v) }
  lt(v: Operand): ColumnExpr { return this.bin("lt", v) }
  le(v: Operand): ColumnExpr { return this.bin("le", v) }
  and(v: Operand): ColumnExpr { return this.bin("and", v) }
  or(v: Operand): ColumnExpr { return this.bin("or", v) }
  add(v: Operand): ColumnExpr { return this.bin("add", v) }
  sub(v: Operand): ColumnExpr { return this.bin("sub", v) }
  mul(v: Operand): ColumnExpr { return this.bin("mul", v) }
  div(v: Operand): ColumnExpr { return this.bin("div", v) }
  not(): ColumnExpr { return new ColumnExpr({ op: "not", arg: this.expr }) }
  isNull(): ColumnExpr { return new ColumnExpr({ op: "isNull", arg: this.expr }) }
  isNotNull(): ColumnExpr { return new ColumnExpr({ op: "isNotNull", arg: this.expr }) }
  /** A nested field: `col("meta").field("lang")`. */
  field(name: string): ColumnExpr {
    if (this.expr.op !== "col") throw new TypeError(`field(${JSON.stringify(name)}) applies to a column, not to ${PlanExpr.render(this.expr)}`)
    return new ColumnExpr({ op: "col", path: [...this.expr.path, name] })
  }
  /** Evaluates the expression on one row (what a filter does). */
  evaluate(row: unknown): unknown { return PlanExpr.evaluate(this.expr, row) }
  toString(): string { return PlanExpr.render(this.expr) }
}

/** A reference to a column of a row. */
export const col = (name: string): ColumnExpr => {
  if (typeof name !== "string" || name.length === 0) throw new TypeError("col(name): the column name must be a non-empty string")
  return new ColumnExpr({ op: "col", path: [name] })
}

/** A literal value in an expression. */
export const lit = (value: PlanExpr.Literal): ColumnExpr => new ColumnExpr({ op: "lit", value })
