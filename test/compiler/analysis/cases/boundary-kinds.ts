/**
 * One reshard per kind of value: the first four arrive changed (a warning each), the rest
 * arrive as they left.
 */
import { Dataset } from "zephyr"

class Point {
  constructor(readonly x: number) {}
}

export const classes = Dataset.fromList([1]).map((x) => ({ at: new Point(x) })).reshard(1) // lossy: class
export const maps = Dataset.fromList([1]).map((x) => new Map([[x, x]])).reshard(1) // lossy: Map
export const functions = Dataset.fromList([1]).map((x) => ({ x, f: () => x })).reshard(1) // lossy: function
export const symbols = Dataset.fromList([1]).map((x) => ({ x, s: Symbol("s") })).reshard(1) // lossy: symbol
export const carried = Dataset.fromList([1]).map((x) => ({
  date: new Date(x),
  set: new Set([x]),
  bytes: new Uint8Array([x]),
  floats: new Float64Array([x]),
  pattern: /x/g,
  error: new Error("e"),
  big: BigInt(x),
  maybe: x > 1 ? x : undefined,
  nested: [{ deep: [x] }]
})).reshard(1)

export default carried
