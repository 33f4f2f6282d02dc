import type { RowGroup } from "hyparquet"
import { describe, expect, it } from "vitest"
import { col } from "../../../dsl/Expr.ts"
import { mayMatch } from "../../../runtime/formats/ParquetStatistics.ts"

const group = (rows: number, columns: Record<string, { min?: unknown; max?: unknown; nulls?: number; exact?: boolean }>): RowGroup => ({
  num_rows: BigInt(rows),
  total_byte_size: 0n,
  columns: Object.entries(columns).map(([p, s]) => ({
    file_offset: 0n,
    meta_data: {
      type: "INT64", encodings: [], path_in_schema: p.split("."), codec: "UNCOMPRESSED",
      num_values: BigInt(rows), total_uncompressed_size: 0n, total_compressed_size: 0n, data_page_offset: 0n,
      statistics: {
        ...(s.min === undefined ? {} : { min_value: s.min as never }),
        ...(s.max === undefined ? {} : { max_value: s.max as never }),
        ...(s.nulls === undefined ? {} : { null_count: BigInt(s.nulls) }),
        ...(s.exact === false ? { is_max_value_exact: false } : {})
      }
    }
  }))
}) as RowGroup

const facts = (g: RowGroup, present: Array<string>, constants: Record<string, string> = {}) =>
  ({ group: g, present: new Set(present), constants: new Map(Object.entries(constants)) })

describe("mayMatch", () => {
  const g = facts(group(100, { n: { min: 10n, max: 20n, nulls: 0 }, s: { min: "apple", max: "melon", nulls: 5 }, "m.k": { min: 1, max: 1, nulls: 0 } }), ["n", "s", "m"])

  it("compares bigint statistics with number literals, either side of the operator", () => {
    expect(mayMatch(col("n").gt(20).expr, g)).toBe(false)
    expect(mayMatch(col("n").ge(20).expr, g)).toBe(true)
    expect(mayMatch(col("n").lt(10.5).expr, g)).toBe(true)
    expect(mayMatch(col("n").lt(10).expr, g)).toBe(false)
    expect(mayMatch({ op: "lt", left: { op: "lit", value: 20 }, right: { op: "col", path: ["n"] } }, g)).toBe(false)
    expect(mayMatch(col("n").eq(15).expr, g)).toBe(true)
    expect(mayMatch(col("n").eq(9.99).expr, g)).toBe(false)
  })

  it("handles strings, nested fields, ne, null literals and incomparable types", () => {
    expect(mayMatch(col("s").eq("zebra").expr, g)).toBe(false)
    expect(mayMatch(col("s").ge("banana").expr, g)).toBe(true)
    expect(mayMatch(col("m").field("k").ne(1).expr, g)).toBe(false)
    expect(mayMatch(col("m").field("k").eq(2).expr, g)).toBe(false)
    expect(mayMatch(col("n").eq(null).expr, g)).toBe(false)
    expect(mayMatch(col("n").eq("15").expr, g)).toBe(true)
    expect(mayMatch(col("s").isNull().expr, g)).toBe(true)
    expect(mayMatch(col("n").isNull().expr, g)).toBe(false)
  })

  it("does not trust string order where UTF-16 and UTF-8 disagree, nor inexact bounds for ne", () => {
    const u = facts(group(10, { s: { min: "\uE000", max: "\uE000", nulls: 0 } }), ["s"])
    expect(mayMatch(col("s").lt("\uE000").expr, u)).toBe(true)
    const inexact = facts(group(10, { s: { min: "abc", max: "abc", nulls: 0, exact: false } }), ["s"])
    expect(mayMatch(col("s").ne("abc").expr, inexact)).toBe(true)
  })

  it("treats absent columns as null and all-null groups as matching only isNull", () => {
    expect(mayMatch(col("absent").eq(1).expr, g)).toBe(false)
    expect(mayMatch(col("absent").isNull().expr, g)).toBe(true)
    expect(mayMatch(col("absent").isNotNull().expr, g)).toBe(false)
    const nulls = facts(group(10, { x: { nulls: 10 } }), ["x"])
    expect(mayMatch(col("x").gt(0).expr, nulls)).toBe(false)
    expect(mayMatch(col("x").isNotNull().expr, nulls)).toBe(false)
    expect(mayMatch(col("x").isNotNull().not().expr, nulls)).toBe(true)
  })

  it("uses constants for columns outside the file", () => {
    const c = facts(group(10, {}), [], { __file_path: "a/b.parquet" })
    expect(mayMatch(col("__file_path").eq("a/b.parquet").expr, c)).toBe(true)
    expect(mayMatch(col("__file_path").ne("a/b.parquet").expr, c)).toBe(false)
  })

  it("combines with and/or and stays conservative elsewhere", () => {
    expect(mayMatch(col("n").gt(50).or(col("s").eq("kiwi")).expr, g)).toBe(true)
    expect(mayMatch(col("n").gt(50).or(col("s").eq("zebra")).expr, g)).toBe(false)
    expect(mayMatch(col("n").gt(5).and(col("s").eq("zebra")).expr, g)).toBe(false)
    expect(mayMatch(col("n").mul(2).gt(50).expr, g)).toBe(true)
    expect(mayMatch(col("n").gt(50).not().expr, g)).toBe(true)
  })
})
