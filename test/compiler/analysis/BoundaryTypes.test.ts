import { describe, expect, it } from "vitest"
import * as BlockFile from "../../../runtime/storage/BlockFile.ts"

// lossy-boundary-type says what the engine's item encoding does to each kind of value; this
// holds it to the encoding itself (the one every shuffle, reshard and stage output uses).
const roundTrip = (value: unknown): unknown => BlockFile.decode(BlockFile.encode(value))

class Point {
  constructor(readonly x: number) {}
  get double(): number { return this.x * 2 }
}

describe("what msgpack does to values at a stage boundary", () => {
  it("changes what the check warns about: class instances, Maps, functions; cannot encode symbols", () => {
    const point = roundTrip({ p: new Point(1) }) as { p: unknown }
    expect(point.p).not.toBeInstanceOf(Point)
    expect(point.p).toEqual({ x: 1 })
    expect((roundTrip({ m: new Map([["a", 1]]) }) as { m: unknown }).m).not.toBeInstanceOf(Map)
    expect((roundTrip({ f: () => 1 }) as { f: unknown }).f).toBeUndefined()
    expect(() => roundTrip({ s: Symbol("s") })).toThrow()
  })

  it("carries as they are what the check lets pass: Dates, Sets, byte and typed arrays, RegExps, Errors, bigints, undefined fields", () => {
    const value = {
      date: new Date(5), set: new Set([1, 2]), bytes: new Uint8Array([1]), floats: new Float64Array([1.5]),
      pattern: /x/g, error: new Error("e"), big: 10n, maybe: undefined, nested: [{ deep: [1] }]
    }
    const back = roundTrip(value) as typeof value
    expect(back.date).toEqual(value.date)
    expect(back.set).toEqual(value.set)
    expect(back.bytes).toEqual(value.bytes)
    expect(back.floats).toEqual(value.floats)
    expect(back.pattern).toEqual(value.pattern)
    expect(back.error).toBeInstanceOf(Error)
    expect(back.big).toBe(10n)
    expect("maybe" in back && back.maybe === undefined).toBe(true)
    expect(back.nested).toEqual(value.nested)
  })
})
