/**
 * The total order and the stable hash of group/join keys. Keys are compared by value:
 * null (and undefined) < booleans < numbers < strings < arrays < plain objects < dates <
 * byte arrays; arrays lexicographically, objects by their sorted keys then values, dates
 * by time, bytes lexicographically. The hash depends only on the key's value, so every
 * process routes a key to the same shard.
 */
const rank = (v: unknown): number => {
  if (v === null || v === undefined) return 0
  switch (typeof v) {
    case "boolean": return 1
    case "number": case "bigint": return 2
    case "string": return 3
    default: return Array.isArray(v) ? 4 : v instanceof Date ? 6 : v instanceof Uint8Array ? 7 : 5
  }
}

export const compare = (a: unknown, b: unknown): number => {
  if (a === b) return 0
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : 1
  if (typeof a === "number" && typeof b === "number") {
    if (a < b) return -1
    if (a > b) return 1
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : Number.isNaN(b) ? -1 : 0
  }
  const ra = rank(a), rb = rank(b)
  if (ra !== rb) return ra - rb
  switch (ra) {
    case 0: return 0
    case 1: return (a ? 1 : 0) - (b ? 1 : 0)
    case 2: { const x = a as number | bigint, y = b as number | bigint; return x < y ? -1 : x > y ? 1 : 0 }
    case 6: { const x = (a as Date).getTime(), y = (b as Date).getTime(); return x < y ? -1 : x > y ? 1 : 0 }
    case 7: return Buffer.compare(a as Uint8Array, b as Uint8Array)
    case 4: {
      const x = a as ReadonlyArray<unknown>, y = b as ReadonlyArray<unknown>
      const n = Math.min(x.length, y.length)
      for (let i = 0; i < n; i++) { const c = compare(x[i], y[i]); if (c !== 0) return c }
      return x.length - y.length
    }
    default: {
      const x = a as Record<string, unknown>, y = b as Record<string, unknown>
      const kx = Object.keys(x).sort(), ky = Object.keys(y).sort()
      const n = Math.min(kx.length, ky.length)
      for (let i = 0; i < n; i++) {
        if (kx[i] !== ky[i]) return kx[i]! < ky[i]! ? -1 : 1
        const c = compare(x[kx[i]!], y[ky[i]!])
        if (c !== 0) return c
      }
      return kx.length - ky.length
    }
  }
}

export const equals = (a: unknown, b: unknown): boolean => compare(a, b) === 0

// FNV-1a over UTF-16 code units, then murmur3's finaliser so that `hash % n` is uniform.
const fnv = (s: string, h: number): number => {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h
}
const fmix = (h: number): number => {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** A text that two keys share exactly when they compare equal. */
export const canonical = (v: unknown): string => {
  switch (rank(v)) {
    case 0: return "n"
    case 1: return v ? "T" : "F"
    case 2: return `#${String(v)}`
    case 3: return JSON.stringify(v)
    case 4: return `[${(v as ReadonlyArray<unknown>).map(canonical).join(",")}]`
    case 6: return `@${(v as Date).getTime()}`
    case 7: return `x${Buffer.from(v as Uint8Array).toString("hex")}`
    default: {
      const o = v as Record<string, unknown>
      return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`
    }
  }
}

/** A 32-bit hash of a key's value, identical in every process. */
export const hash = (key: unknown): number =>
  typeof key === "string" ? fmix(fnv(key, 0x811c9dc5)) : hashCanonical(canonical(key))

/** The hash of a non-string key from its canonical text (when the caller has it already). */
export const hashCanonical = (text: string): number => fmix(fnv(text, 0x9747b28c))

/**
 * `hash % n` for a hash from `hash` (an unsigned 32-bit number), in integer arithmetic. Half
 * of the hashes are 2^31 or more, which V8 holds as doubles, and `%` on a double is a call
 * to C's fmod (12 ns a hash here, against 7 ns this way, and the line the scatter's profile
 * charged most after the table's probe). Split into 16-bit halves, every step is a small
 * integer (for n up to 32,767; above that still exact, as doubles).
 */
export const targetOf = (hash: number, n: number): number => {
  const h = hash | 0
  return h >= 0 ? h % n : (((h >>> 16) % n) * 65536 + (h & 0xffff)) % n
}

/** The shard a key goes to among `n`. */
export const target = (key: unknown, n: number): number => targetOf(hash(key), n)

/** Keys are values: undefined is null, and anything that is not a value is refused. */
export const check = (key: unknown): void => {
  switch (typeof key) {
    case "function": case "symbol": throw new TypeError(`A key must be a value (string, number, boolean, null, array or plain object), got a ${typeof key}`)
  }
}
