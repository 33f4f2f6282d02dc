import * as AnyArray from "../AnyArray.ts"

/**
 * A JSON line reader for the usual JSONL row: one flat object whose values are numbers,
 * strings without escapes, booleans or null. Anything else, valid or not, goes to
 * `JSON.parse`, so the result (or the error) is always exactly `JSON.parse`'s.
 *
 * Why: `JSON.parse` interns every key and every string value of up to 10 characters in V8's
 * string table, and in an engine process, whose table holds the engine's own names, each of
 * those lookups costs a cache miss or more: group-by-count's map stage spent 385 ms of a
 * worker's 0.95 s in them, where a plain Node script spent 257 ms. Here a row's keys come
 * from the previous row's (compared in place) or, in another order, from the keys seen
 * before, and its string values are plain copies. Strings are found with `indexOf`, in
 * native code.
 *
 * What is saved is the interning of short string values (V8 interns those of 10 characters or
 * fewer; keys it finds through the previous row's shape too): a row of long strings or of
 * numbers alone saves nothing, and pays for the scan here (in an engine process, 100,000
 * rows: 97–105 ms instead of 115–127 ms with 3 short strings in 151 characters; 124–134 ms
 * instead of 76–78 ms with none in 800). A file's first rows decide: when most of them need
 * `JSON.parse` anyway (nested values, escapes), or they carry fewer than one short string
 * per `CHARS_PER_SHORT_STRING` characters, the rest of the file is read by `JSON.parse` alone.
 *
 * With `columns` (the fields the pipeline reads of a row: a pushed-down `select`, or what its
 * first function reads, see ReadColumns), a row is made of those fields alone: the other values
 * are checked and skipped, never copied or converted. What it gives is then `JSON.parse`'s
 * value with the other fields left out (`project`), and its errors are `JSON.parse`'s.
 */

const QUOTE = 34
const SPACE = 32
const PLUS = 43
const COMMA = 44
const MINUS = 45
const DOT = 46
const ZERO = 48
const NINE = 57
const COLON = 58
const UPPER_E = 69
const LOWER_E = 101
const LOWER_F = 102
const LOWER_N = 110
const LOWER_T = 116
const OPEN_BRACE = 123
const CLOSE_BRACE = 125

/**
 * A line with a backslash (an escape) or a control character (invalid in a string, and
 * whitespace only as a tab or CR between tokens) goes to JSON.parse whole: without them the
 * next quote always ends a string, and the only whitespace is a space.
 */
const NOT_PLAIN = /[\u0000-\u001f\\]/

/** V8 copies a substring shorter than this (SlicedString::kMinLength); a longer one points into its parent. */
const COPIED_BELOW = 13

/** How many rows decide whether a file is read here or by JSON.parse alone, and the share of them JSON.parse must take for the latter. */
const TRIAL_ROWS = 256
const GIVE_UP_SHARE = 0.25
/**
 * Below one short string value per this many characters, JSON.parse is faster: each saves
 * about 0.3 µs, and the scan here costs about 0.6 ns per character more.
 */
const CHARS_PER_SHORT_STRING = 512
/** The longest string value V8's JSON.parse interns (JsonParser's kMaxInternalizedStringValueLength). */
const INTERNED_UP_TO = 10

/** How many keys a parser remembers by name (a row of a million keys is not a schema). */
const KNOWN_KEYS = 1024

/** Integers of up to this many digits are below 2^53, so exact when summed digit by digit. */
const MAX_EXACT_DIGITS = 15

const isDigit = (c: number): boolean => c >= ZERO && c <= NINE

/**
 * `value` with only the fields in `columns` (a row JSON.parse made): any other value as it is.
 * The fields keep their order; `__proto__` stays an own field, as JSON.parse makes it.
 */
export const project = (value: unknown, columns: ReadonlySet<string>): unknown => {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return value
  const row = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(row)) {
    if (!columns.has(key)) continue
    if (key === "__proto__") Object.defineProperty(out, key, { value: row[key], writable: true, enumerable: true, configurable: true })
    else out[key] = row[key]
  }
  return out
}

/** A key as V8 keeps property names: interned once, when first seen. */
const interned = (key: string): string => Object.keys({ [key]: 0 })[0]!

/**
 * A copy of the string value at `s.slice(start, end)` (no escapes, no control characters)
 * that does not keep `s` alive: a slice would hold the whole 64 KiB input block as long as
 * the row (a row kept by a shuffle, all of it), and a copy by concatenation keeps a 32-byte
 * wrapper. JSON.parse of the quoted value makes a plain string.
 */
const copied = (s: string, start: number, end: number): string => JSON.parse(s.slice(start - 1, end + 1)) as string

/**
 * A parser for one stream of lines (one file): it remembers the keys of the rows it read, so
 * rows of the same shape never look their keys up. Each file's parser is new, and V8 keeps
 * the code it optimised for the last one only if the new one looks the same to it: so its
 * arrays are of any kind from the start (AnyArray), and it reads nothing past a line's end
 * (a worker of group-by-count reading 4 files compiled the parser 5 times, 45 ms of its CPU,
 * before; twice, 17 ms, now).
 */
export class Parser {
  // By position in the row, then by name: rows whose keys come in varying order.
  private readonly keys: Array<string> = AnyArray.empty()
  // By position: whether the row keeps the value (always, without columns).
  private readonly keep: Array<boolean> = AnyArray.empty()
  private readonly known = new Map<string, string>()
  private rows = 0
  private givenUp = 0
  private chars = 0
  private shortStrings = 0
  private plain = false
  // A row's values, then its object: a copy of a template of its shape made by JSON.parse,
  // whose properties all sit inside the object (an object built up from `{}` keeps those
  // past the fourth in a separate array: 24 more bytes a row).
  private readonly values: Array<unknown> = AnyArray.empty()
  private template: Record<string, unknown> | undefined = undefined
  private templateSize = -1
  private readonly columns: ReadonlySet<string> | undefined

  /** `columns`: the fields a row keeps (null: all). */
  constructor(columns: ReadonlyArray<string> | null = null) {
    this.columns = columns === null ? undefined : new Set(columns)
  }

  /** What JSON.parse makes of the line (or the error it throws), with only `columns`' fields. */
  parse(s: string): unknown {
    if (this.plain) return this.fromJsonParse(s)
    const row = this.flat(s)
    if (this.rows < TRIAL_ROWS) {
      this.rows++
      this.chars += s.length
      if (row === undefined) this.givenUp++
      // Skipping fields beats JSON.parse whatever their strings: only lines it must read anyway count then.
      if (this.rows === TRIAL_ROWS) this.plain = this.givenUp > TRIAL_ROWS * GIVE_UP_SHARE || (this.columns === undefined && this.shortStrings * CHARS_PER_SHORT_STRING < this.chars)
    }
    return row ?? this.fromJsonParse(s)
  }

  private fromJsonParse(s: string): unknown {
    const value: unknown = JSON.parse(s)
    return this.columns === undefined ? value : project(value, this.columns)
  }

  /** The row, or undefined when JSON.parse must read the line. */
  private flat(s: string): Record<string, unknown> | undefined {
    if (NOT_PLAIN.test(s)) return undefined
    const keys = this.keys
    const keep = this.keep
    const columns = this.columns
    const known = this.known
    const values = this.values
    const n = s.length
    let i = 0
    let c = s.charCodeAt(0)
    while (c === SPACE) c = s.charCodeAt(++i)
    if (c !== OPEN_BRACE) return undefined
    let sameShape = true
    let count = 0
    c = s.charCodeAt(++i)
    while (c === SPACE) c = s.charCodeAt(++i)
    if (c === CLOSE_BRACE) {
      i++
    } else {
      for (let k = 0; ; k++) {
        if (c !== QUOTE) return undefined
        const keyStart = i + 1
        let j = s.indexOf("\"", keyStart)
        if (j < 0) return undefined
        // The first row of a file has no keys before it (read within bounds, as above).
        let key = k < keys.length ? keys[k] : undefined
        if (key === undefined || key.length !== j - keyStart || !s.startsWith(key, keyStart)) {
          sameShape = false
          const text = s.slice(keyStart, j)
          key = known.get(text)
          if (key === undefined) {
            // Rows get their properties by assignment, which would meet what Object.prototype
            // has under that name (`__proto__` sets the prototype; a frozen `toString` throws).
            if (text in Object.prototype) return undefined
            key = interned(text)
            if (known.size < KNOWN_KEYS) known.set(key, key)
          }
          keys[k] = key
          keep[k] = columns === undefined || columns.has(key)
        }
        i = j + 1
        c = s.charCodeAt(i)
        while (c === SPACE) c = s.charCodeAt(++i)
        if (c !== COLON) return undefined
        c = s.charCodeAt(++i)
        while (c === SPACE) c = s.charCodeAt(++i)
        let value: unknown
        if (c === QUOTE) {
          const valueStart = i + 1
          j = s.indexOf("\"", valueStart)
          if (j < 0) return undefined
          if (!keep[k]) value = undefined
          else {
            if (j - valueStart <= INTERNED_UP_TO) this.shortStrings++
            value = j - valueStart < COPIED_BELOW ? s.slice(valueStart, j) : copied(s, valueStart, j)
          }
          i = j + 1
        } else if (c === MINUS || isDigit(c)) {
          // JSON's number grammar exactly. An integer of up to 15 digits is exact as it is
          // summed here; anything else Number() reads as JSON.parse does, from a slice.
          const numberStart = i
          const negative = c === MINUS
          if (negative) c = s.charCodeAt(++i)
          const digitsStart = i
          let integer = 0
          if (c === ZERO) c = s.charCodeAt(++i)
          else if (isDigit(c)) do { integer = integer * 10 + (c - ZERO); c = s.charCodeAt(++i) } while (isDigit(c))
          else return undefined
          if (c !== DOT && c !== LOWER_E && c !== UPPER_E && i - digitsStart <= MAX_EXACT_DIGITS) {
            value = negative ? -integer : integer
          } else {
            if (c === DOT) {
              c = s.charCodeAt(++i)
              if (!isDigit(c)) return undefined
              do c = s.charCodeAt(++i); while (isDigit(c))
            }
            if (c === LOWER_E || c === UPPER_E) {
              c = s.charCodeAt(++i)
              if (c === PLUS || c === MINUS) c = s.charCodeAt(++i)
              if (!isDigit(c)) return undefined
              do c = s.charCodeAt(++i); while (isDigit(c))
            }
            value = keep[k] ? Number(s.slice(numberStart, i)) : undefined
          }
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
          return undefined
        }
        values[k] = value
        count = k + 1
        c = s.charCodeAt(i)
        while (c === SPACE) c = s.charCodeAt(++i)
        if (c === COMMA) {
          c = s.charCodeAt(++i)
          while (c === SPACE) c = s.charCodeAt(++i)
          continue
        }
        if (c !== CLOSE_BRACE) return undefined
        i++
        break
      }
    }
    // Past the closing brace, reading stops at the line's end: a read past it (NaN) would
    // throw away code V8 optimised for reads inside the line.
    while (i < n && s.charCodeAt(i) === SPACE) i++
    if (i < n) return undefined
    let row: Record<string, unknown>
    if (!sameShape) {
      // Keys that changed (the cache now holds them): a row of its own; the next row of this
      // shape makes the template.
      this.template = undefined
      row = {}
    } else {
      if (this.template === undefined || count !== this.templateSize) {
        let text = ""
        for (let k = 0; k < count; k++) if (keep[k]) text += `${text.length > 0 ? "," : ""}${JSON.stringify(keys[k])}:null`
        this.template = JSON.parse(`{${text}}`) as Record<string, unknown>
        this.templateSize = count
      }
      row = { ...this.template }
    }
    for (let k = 0; k < count; k++) if (keep[k]) row[keys[k]!] = values[k]
    return row
  }
}

/** A parser as a function (see Parser). */
export const makeParser = (columns: ReadonlyArray<string> | null = null): (line: string) => unknown => {
  const parser = new Parser(columns)
  return (line) => parser.parse(line)
}
