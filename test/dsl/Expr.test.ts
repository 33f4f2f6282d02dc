import { describe, expect, it } from "vitest"
import { col, lit } from "zephyr"

describe("col expressions", () => {
  const row = { a: 3, b: "x", n: null, meta: { lang: "en" } }
  const cases: Array<[string, ReturnType<typeof col>, unknown]> = [
    ["eq", col("a").eq(3), true],
    ["ne", col("a").ne(3), false],
    ["gt/ge/lt/le", col("a").gt(2).and(col("a").ge(3)).and(col("a").lt(4)).and(col("a").le(3)), true],
    ["or / not", col("a").eq(1).or(col("b").eq("x").not()), false],
    ["missing column is null", col("zzz").isNull(), true],
    ["null column isNull", col("n").isNull(), true],
    ["isNotNull", col("b").isNotNull(), true],
    ["comparison with null is false", col("n").gt(0), false],
    ["eq with null is false", col("n").eq(null), false],
    ["missing column comparison is false", col("zzz").lt(10), false],
    ["nested field", col("meta").field("lang").eq("en"), true],
    ["arithmetic", col("a").add(2).mul(3).sub(1).div(2), 7],
    ["arithmetic with null", col("n").add(1), null],
    ["column vs column", col("a").eq(col("a")), true],
    ["literal", lit(5).gt(col("a")), true]
  ]
  for (const [name, expr, expected] of cases) it(name, () => expect(expr.evaluate(row)).toBe(expected))

  it("renders the way it was written", () => {
    expect(String(col("score").gt(0.5).and(col("lang").eq("en")))).toBe('((col("score") > 0.5) && (col("lang") == "en"))')
  })

  it("refuses field() on something that is not a column", () => {
    expect(() => col("a").add(1).field("x")).toThrow(/applies to a column/)
  })
})

describe("col expressions on awkward numbers", () => {
  it("NaN compares false with everything, like null", () => {
    expect(col("x").eq(1).evaluate({ x: NaN })).toBe(false)
    expect(col("x").ge(0).evaluate({ x: NaN })).toBe(false)
    expect(col("x").le(0).evaluate({ x: NaN })).toBe(false)
  })
  it("bigint against integer and fractional numbers", () => {
    expect(col("x").gt(2).evaluate({ x: 3n })).toBe(true)
    expect(col("x").gt(2.5).evaluate({ x: 3n })).toBe(true)
    expect(col("x").lt(2.5).evaluate({ x: 3n })).toBe(false)
    expect(col("x").eq(9007199254740993n as any).evaluate({ x: 9007199254740993n })).toBe(true)
  })
})
