import { Schema } from "effect"

/**
 * Column expressions: plain data, so a reader can evaluate them (pushdown) and the
 * fingerprint can hash them. `col("a").field("b")` is a column path.
 */
export type Literal = string | number | boolean | null

export type Expr =
  | { readonly op: "col"; readonly path: ReadonlyArray<string> }
  | { readonly op: "lit"; readonly value: Literal }
  | { readonly op: BinaryOp; readonly left: Expr; readonly right: Expr }
  | { readonly op: UnaryOp; readonly arg: Expr }

export type BinaryOp = "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "and" | "or" | "add" | "sub" | "mul" | "div"
export type UnaryOp = "not" | "isNull" | "isNotNull"

const BinaryOps = ["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "add", "sub", "mul", "div"] as const
const UnaryOps = ["not", "isNull", "isNotNull"] as const

export const Expr: Schema.Schema<Expr> = Schema.Union(
  Schema.Struct({ op: Schema.Literal("col"), path: Schema.Array(Schema.String) }),
  Schema.Struct({ op: Schema.Literal("lit"), value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean, Schema.Null) }),
  Schema.Struct({
    op: Schema.Literal(...BinaryOps),
    left: Schema.suspend((): Schema.Schema<Expr> => Expr),
    right: Schema.suspend((): Schema.Schema<Expr> => Expr)
  }),
  Schema.Struct({ op: Schema.Literal(...UnaryOps), arg: Schema.suspend((): Schema.Schema<Expr> => Expr) })
)

const lookup = (row: unknown, path: ReadonlyArray<string>): unknown => {
  let v: unknown = row
  for (const p of path) {
    if (v === null || typeof v !== "object") return null
    v = (v as Record<string, unknown>)[p]
    if (v === undefined) return null
  }
  return v === undefined ? null : v
}

const compare = (l: unknown, r: unknown): number | null => {
  if (l === null || r === null || l === undefined || r === undefined) return null
  if (typeof l === "number" && typeof r === "number") {
    if (Number.isNaN(l) || Number.isNaN(r)) return null
    return l < r ? -1 : l > r ? 1 : 0
  }
  if (typeof l === "string" && typeof r === "string") return l < r ? -1 : l > r ? 1 : 0
  if (typeof l === "boolean" && typeof r === "boolean") return Number(l) - Number(r)
  if ((typeof l === "bigint" || typeof l === "number") && (typeof r === "bigint" || typeof r === "number")) {
    // bigint against number: exact when the number is an integer, by Number otherwise.
    if (Number.isInteger(l) || Number.isInteger(r) || (typeof l === "bigint" && typeof r === "bigint")) {
      const a = BigInt(l as number), b = BigInt(r as number)
      return a < b ? -1 : a > b ? 1 : 0
    }
    const a = Number(l), b = Number(r)
    return Number.isNaN(a) || Number.isNaN(b) ? null : a < b ? -1 : a > b ? 1 : 0
  }
  return null
}

const arith = (op: "add" | "sub" | "mul" | "div", l: unknown, r: unknown): unknown => {
  if (l === null || r === null) return null
  if (op === "add" && (typeof l === "string" || typeof r === "string")) return String(l) + String(r)
  const a = Number(l), b = Number(r)
  switch (op) {
    case "add": return a + b
    case "sub": return a - b
    case "mul": return a * b
    case "div": return a / b
  }
}

/**
 * Evaluates an expression against a row. A missing column is null; any comparison with
 * null is false; arithmetic with null is null; `isNull` is true for missing and null.
 */
export const evaluate = (expr: Expr, row: unknown): unknown => {
  switch (expr.op) {
    case "col": return lookup(row, expr.path)
    case "lit": return expr.value
    case "not": return !truthy(evaluate(expr.arg, row))
    case "isNull": return evaluate(expr.arg, row) === null
    case "isNotNull": return evaluate(expr.arg, row) !== null
    case "and": return truthy(evaluate(expr.left, row)) && truthy(evaluate(expr.right, row))
    case "or": return truthy(evaluate(expr.left, row)) || truthy(evaluate(expr.right, row))
    case "add": case "sub": case "mul": case "div":
      return arith(expr.op, evaluate(expr.left, row), evaluate(expr.right, row))
    case "eq": case "ne": {
      const l = evaluate(expr.left, row), r = evaluate(expr.right, row)
      if (l === null || r === null) return false
      const c = compare(l, r)
      const equal = c === null ? l === r : c === 0
      return expr.op === "eq" ? equal : !equal
    }
    case "gt": case "ge": case "lt": case "le": {
      const c = compare(evaluate(expr.left, row), evaluate(expr.right, row))
      if (c === null) return false
      return expr.op === "gt" ? c > 0 : expr.op === "ge" ? c >= 0 : expr.op === "lt" ? c < 0 : c <= 0
    }
  }
}

export const truthy = (v: unknown): boolean => v !== null && v !== undefined && v !== false && v !== 0 && v !== ""

/** Compiles an expression into a predicate once, so a filter does not re-walk the tree per row. */
export const predicate = (expr: Expr): ((row: unknown) => boolean) => (row) => truthy(evaluate(expr, row))

/** The top-level columns an expression reads (for projection pushdown). */
export const columns = (expr: Expr, into: Set<string> = new Set()): Set<string> => {
  switch (expr.op) {
    case "col": if (expr.path[0] !== undefined) into.add(expr.path[0]); break
    case "lit": break
    case "not": case "isNull": case "isNotNull": columns(expr.arg, into); break
    default: columns(expr.left, into); columns(expr.right, into)
  }
  return into
}

const symbols: Record<BinaryOp, string> = {
  eq: "==", ne: "!=", gt: ">", ge: ">=", lt: "<", le: "<=", and: "&&", or: "||", add: "+", sub: "-", mul: "*", div: "/"
}

/** Renders an expression the way a user would write it, for plans and errors. */
export const render = (expr: Expr): string => {
  switch (expr.op) {
    case "col": return `col(${JSON.stringify(expr.path[0])})` + expr.path.slice(1).map((p) => `.field(${JSON.stringify(p)})`).join("")
    case "lit": return JSON.stringify(expr.value)
    case "not": return `!(${render(expr.arg)})`
    case "isNull": return `${render(expr.arg)}.isNull()`
    case "isNotNull": return `${render(expr.arg)}.isNotNull()`
    default: return `(${render(expr.left)} ${symbols[expr.op]} ${render(expr.right)})`
  }
}
