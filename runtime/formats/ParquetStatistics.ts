import type { RowGroup } from "hyparquet"
import type * as Expr from "../../plan/Expr.ts"

/**
 * Row-group pruning: whether any row of a row group can satisfy a pushed `col(...)` filter,
 * judged from the group's column statistics (min, max, null count) with the semantics of
 * `Expr.evaluate` (a missing column is null; comparisons with null are false). `false` is
 * a proof that no row matches; anything the statistics cannot decide is `true`.
 *
 * Columns are matched by path (`col("a").field("b")` uses the statistics of leaf `a.b`).
 * `constants` supplies columns that have one known value in every row (the file path
 * column); `present` lists the file's top-level columns, so that a filter on a column the
 * file does not have can be decided too.
 */
export interface GroupFacts {
  readonly group: RowGroup
  readonly present: ReadonlySet<string>
  readonly constants: ReadonlyMap<string, string>
}

interface ColumnFacts {
  readonly rows: number
  readonly nulls: number | undefined
  readonly min: unknown
  readonly max: unknown
  readonly exact: boolean
}

const ALL_NULL: unique symbol = Symbol("all-null")

/** The statistics of the column at `path`, ALL_NULL for an absent column, undefined if unknown. */
const facts = (path: ReadonlyArray<string>, f: GroupFacts): ColumnFacts | typeof ALL_NULL | undefined => {
  const rows = Number(f.group.num_rows)
  const top = path[0]
  if (top === undefined) return undefined
  if (path.length === 1 && f.constants.has(top)) {
    const v = f.constants.get(top)
    return { rows, nulls: 0, min: v, max: v, exact: true }
  }
  if (!f.present.has(top)) return ALL_NULL
  const key = path.join("\u0000")
  const chunk = f.group.columns.find((c) => c.meta_data?.path_in_schema.join("\u0000") === key)
  const stats = chunk?.meta_data?.statistics
  if (stats === undefined) return undefined
  return {
    rows,
    nulls: stats.null_count === undefined ? undefined : Number(stats.null_count),
    min: stats.min_value,
    max: stats.max_value,
    exact: stats.is_min_value_exact !== false && stats.is_max_value_exact !== false
  }
}

/** Strings compare the same in UTF-16 (JS) and UTF-8 byte (Parquet) order below U+D800. */
const orderSafe = (s: string): boolean => !/[\uD800-\uFFFF]/.test(s)

/** Total order between two statistics-comparable values, or undefined when they are not comparable. */
const compare = (a: unknown, b: unknown): number | undefined => {
  if ((typeof a === "number" || typeof a === "bigint") && (typeof b === "number" || typeof b === "bigint")) {
    if (typeof a === "number" && Number.isNaN(a)) return undefined
    if (typeof b === "number" && Number.isNaN(b)) return undefined
    if (typeof a === "bigint" && typeof b === "number" && Number.isInteger(b)) return cmp(a, BigInt(b))
    if (typeof a === "number" && typeof b === "bigint" && Number.isInteger(a)) return cmp(BigInt(a), b)
    return cmp(Number(a), Number(b))
  }
  if (typeof a === "string" && typeof b === "string") return orderSafe(a) && orderSafe(b) ? cmp(a, b) : undefined
  if (typeof a === "boolean" && typeof b === "boolean") return Number(a) - Number(b)
  return undefined
}

const cmp = <T extends number | bigint | string>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0)

const flip: Record<"gt" | "ge" | "lt" | "le" | "eq" | "ne", "gt" | "ge" | "lt" | "le" | "eq" | "ne"> = {
  gt: "lt", ge: "le", lt: "gt", le: "ge", eq: "eq", ne: "ne"
}

/** False when the statistics prove that no row of the group satisfies `expr`. */
export const mayMatch = (expr: Expr.Expr, f: GroupFacts): boolean => {
  switch (expr.op) {
    case "and": return mayMatch(expr.left, f) && mayMatch(expr.right, f)
    case "or": return mayMatch(expr.left, f) || mayMatch(expr.right, f)
    case "not":
      if (expr.arg.op === "not") return mayMatch(expr.arg.arg, f)
      if (expr.arg.op === "isNull") return mayMatch({ op: "isNotNull", arg: expr.arg.arg }, f)
      if (expr.arg.op === "isNotNull") return mayMatch({ op: "isNull", arg: expr.arg.arg }, f)
      return true
    case "isNull": case "isNotNull": {
      if (expr.arg.op !== "col") return true
      const c = facts(expr.arg.path, f)
      if (c === ALL_NULL) return expr.op === "isNull"
      if (c === undefined || c.nulls === undefined) return true
      return expr.op === "isNull" ? c.nulls > 0 : c.nulls < c.rows
    }
    case "eq": case "ne": case "gt": case "ge": case "lt": case "le": {
      const [column, literal, op] =
        expr.left.op === "col" && expr.right.op === "lit" ? [expr.left, expr.right, expr.op]
        : expr.left.op === "lit" && expr.right.op === "col" ? [expr.right, expr.left, flip[expr.op]]
        : [undefined, undefined, expr.op]
      if (column === undefined || literal === undefined) return true
      if (literal.value === null) return false
      const c = facts(column.path, f)
      if (c === ALL_NULL) return false
      if (c === undefined) return true
      if (c.nulls !== undefined && c.nulls >= c.rows) return false
      const v = literal.value
      const lo = c.min === undefined ? undefined : compare(c.min, v)
      const hi = c.max === undefined ? undefined : compare(c.max, v)
      switch (op) {
        case "eq": return (lo === undefined || lo <= 0) && (hi === undefined || hi >= 0)
        case "ne": return !(c.exact && lo === 0 && hi === 0)
        case "gt": return hi === undefined || hi > 0
        case "ge": return hi === undefined || hi >= 0
        case "lt": return lo === undefined || lo < 0
        case "le": return lo === undefined || lo <= 0
      }
      return true
    }
    default: return true
  }
}
