/**
 * A JSON line reader for the usual JSONL row: one flat object whose values are numbers,
 * short strings without escapes, booleans or null. Anything else, valid or not, goes to
 * `JSON.parse`, so the result (or the error) is always exactly `JSON.parse`'s.
 *
 * Why: `JSON.parse` interns every key and every string value of up to 10 characters in V8's
 * string table, and in an engine process, whose table holds the engine's own names, each of
 * those lookups costs a cache miss or more: group-by-count's map stage spent 385 ms of a
 * worker's 0.95 s in them, where a plain Node script spent 257 ms. Here a row's keys come
 * from the previous row's (compared in place) and its short values are plain copies.
 * Values of 13 characters or more go through `JSON.parse` one by one: a plain `slice` of
 * them would keep the whole input block alive as long as the row.
 */

const QUOTE = 34
const COMMA = 44
const MINUS = 45
const DOT = 46
const ZERO = 48
const NINE = 57
const COLON = 58
const UPPER_E = 69
const BACKSLASH = 92
const LOWER_E = 101
const LOWER_F = 102
const LOWER_N = 110
const LOWER_T = 116
const OPEN_BRACE = 123
const CLOSE_BRACE = 125
const PLUS = 43

/** V8 copies a substring shorter than this (SlicedString::kMinLength); longer ones point into their parent. */
const COPIED_BELOW = 13

const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE

/** A key as V8 keeps property names: interned once, when first seen at its position. */
const interned = (key: string): string => Object.keys({ [key]: 0 })[0]!

/**
 * A parser for one stream of lines: it remembers the keys of the rows it read, by
 * position, so rows of the same shape never look their keys up.
 */
export const makeParser = (): (line: string) => unknown => {
  const keys: Array<string> = []
  return (s) => {
    const n = s.length
    let i = 0
    let c = s.charCodeAt(0)
    while (isSpace(c)) c = s.charCodeAt(++i)
    if (c !== OPEN_BRACE) return JSON.parse(s)
    const row: Record<string, unknown> = {}
    c = s.charCodeAt(++i)
    while (isSpace(c)) c = s.charCodeAt(++i)
    if (c === CLOSE_BRACE) {
      c = s.charCodeAt(++i)
    } else {
      for (let k = 0; ; k++) {
        if (c !== QUOTE) return JSON.parse(s)
        const keyStart = i + 1
        let j = keyStart
        for (c = s.charCodeAt(j); c !== QUOTE; c = s.charCodeAt(++j)) {
          // An escape, a control character (invalid in JSON) or the end of the line.
          if (c === BACKSLASH || c < 32 || j >= n) return JSON.parse(s)
        }
        let key = keys[k]
        if (key === undefined || key.length !== j - keyStart || !s.startsWith(key, keyStart)) {
          key = s.slice(keyStart, j)
          // Rows get their properties by assignment, which would meet what Object.prototype
          // has under that name (`__proto__` sets the prototype; a frozen `toString` throws).
          if (key in Object.prototype) return JSON.parse(s)
          key = keys[k] = interned(key)
        }
        i = j + 1
        c = s.charCodeAt(i)
        while (isSpace(c)) c = s.charCodeAt(++i)
        if (c !== COLON) return JSON.parse(s)
        c = s.charCodeAt(++i)
        while (isSpace(c)) c = s.charCodeAt(++i)
        let value: unknown
        if (c === QUOTE) {
          const valueStart = i + 1
          for (j = valueStart, c = s.charCodeAt(j); c !== QUOTE; c = s.charCodeAt(++j)) {
            if (c === BACKSLASH || c < 32 || j >= n) return JSON.parse(s)
          }
          value = j - valueStart < COPIED_BELOW ? s.slice(valueStart, j) : JSON.parse(s.slice(i, j + 1))
          i = j + 1
        } else if (c === MINUS || isDigit(c)) {
          // JSON's number grammar exactly; Number() then reads it as JSON.parse does.
          const numberStart = i
          if (c === MINUS) c = s.charCodeAt(++i)
          if (c === ZERO) c = s.charCodeAt(++i)
          else if (isDigit(c)) do c = s.charCodeAt(++i); while (isDigit(c))
          else return JSON.parse(s)
          if (c === DOT) {
            c = s.charCodeAt(++i)
            if (!isDigit(c)) return JSON.parse(s)
            do c = s.charCodeAt(++i); while (isDigit(c))
          }
          if (c === LOWER_E || c === UPPER_E) {
            c = s.charCodeAt(++i)
            if (c === PLUS || c === MINUS) c = s.charCodeAt(++i)
            if (!isDigit(c)) return JSON.parse(s)
            do c = s.charCodeAt(++i); while (isDigit(c))
          }
          value = Number(s.slice(numberStart, i))
        } else if (c === LOWER_T && s.startsWith("true", i)) {
          value = true
          i += 4
        } else if (c === LOWER_F && s.startsWith("false", i)) {
          value = false
          i += 5
        } else if (c === LOWER_N && s.startsWith("null", i)) {
          value = null
          i += 4
        } else {
          // A nested object or array, or not JSON.
          return JSON.parse(s)
        }
        row[key] = value
        c = s.charCodeAt(i)
        while (isSpace(c)) c = s.charCodeAt(++i)
        if (c === COMMA) {
          c = s.charCodeAt(++i)
          while (isSpace(c)) c = s.charCodeAt(++i)
          continue
        }
        if (c !== CLOSE_BRACE) return JSON.parse(s)
        c = s.charCodeAt(++i)
        break
      }
    }
    while (isSpace(c)) c = s.charCodeAt(++i)
    return i >= n ? row : JSON.parse(s)
  }
}
