import { createHash } from "node:crypto"

/**
 * A canonical text for any value, for hashing: object keys sorted, functions by their
 * source text, Maps and Sets by content, cycles marked. Two builds of the same pipeline
 * give the same text; a changed function, constant or list gives a different one.
 */
export const canonical = (value: unknown): string => {
  const seen = new Set<object>()
  const walk = (v: unknown): string => {
    switch (typeof v) {
      case "undefined": return "u"
      case "boolean": return v ? "T" : "F"
      case "number": return Object.is(v, -0) ? "n0" : `n${v}`
      case "bigint": return `b${v}`
      case "string": return JSON.stringify(v)
      case "symbol": return `y${String(v.description)}`
      case "function": return `f${v.name}:${v.toString()}`
    }
    if (v === null) return "N"
    const o = v as object
    if (seen.has(o)) return "<cycle>"
    seen.add(o)
    try {
      if (Array.isArray(o)) return `[${o.map(walk).join(",")}]`
      if (o instanceof Uint8Array) return `x${Buffer.from(o.buffer, o.byteOffset, o.byteLength).toString("base64")}`
      if (o instanceof Date) return `d${o.toISOString()}`
      if (o instanceof Map) return `M{${[...o].map(([k, x]) => `${walk(k)}:${walk(x)}`).sort().join(",")}}`
      if (o instanceof Set) return `S{${[...o].map(walk).sort().join(",")}}`
      if (o instanceof RegExp) return `r${o.toString()}`
      const keys = Object.keys(o).sort()
      const proto = Object.getPrototypeOf(o)
      const tag = proto && proto !== Object.prototype && proto.constructor ? proto.constructor.name : ""
      return `${tag}{${keys.map((k) => `${JSON.stringify(k)}:${walk((o as Record<string, unknown>)[k])}`).join(",")}}`
    } finally {
      seen.delete(o)
    }
  }
  return walk(value)
}

export const sha256 = (text: string | Uint8Array): string => createHash("sha256").update(text).digest("hex")

/** A short, stable digest of any value (see `canonical`). */
export const digest = (value: unknown, length = 16): string => sha256(canonical(value)).slice(0, length)
