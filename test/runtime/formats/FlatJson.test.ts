import { spawnSync } from "node:child_process"
import * as fc from "fast-check"
import { describe, expect, it, vi } from "vitest"
import * as FlatJson from "../../../runtime/formats/FlatJson.ts"

type Outcome = { readonly value: unknown; readonly text: string | undefined; readonly keys: unknown } | { readonly error: string }

/** What a parse gives: the value (with -0 told from 0), its keys in order, or the error's message. */
const outcome = (parse: (s: string) => unknown, line: string): Outcome => {
  try {
    const value = parse(line)
    return { value, text: JSON.stringify(value), keys: value !== null && typeof value === "object" ? Object.keys(value) : undefined }
  } catch (e) {
    return { error: (e as Error).message }
  }
}

/** The parser gives exactly what JSON.parse gives, line by line, with its key cache carried along. */
const expectSameAsJsonParse = (lines: ReadonlyArray<string>) => {
  const parse = FlatJson.makeParser()
  for (const line of lines) expect(outcome(parse, line), line).toStrictEqual(outcome(JSON.parse, line))
}

/** With `columns`, JSON.parse's value with the other fields left out (or JSON.parse's error). */
const expectSameAsProjectedJsonParse = (lines: ReadonlyArray<string>, columns: ReadonlyArray<string>) => {
  const parse = FlatJson.makeParser(columns)
  const wanted = new Set(columns)
  for (const line of lines) expect(outcome(parse, line), `${line} with columns ${JSON.stringify(columns)}`).toStrictEqual(outcome((s) => FlatJson.project(JSON.parse(s), wanted), line))
}

/**
 * Runs `lines` of a script in a process of its own that can collect garbage on demand
 * (`gc()`), with FlatJson imported; what the script prints, parsed as JSON.
 */
const inFreshHeap = (lines: ReadonlyArray<string>): unknown => {
  const child = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "-e", ["import * as FlatJson from './runtime/formats/FlatJson.ts'", ...lines].join("\n")], { encoding: "utf8", input: "" })
  expect(child.stderr).toBe("")
  return JSON.parse(child.stdout)
}

describe("FlatJson: a JSON line reader that always agrees with JSON.parse", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["flat rows", ['{"id":0,"key":"k05005","score":0.2299,"ok":true,"none":null,"no":false}', '{"id":1,"key":"k1","score":-0.5,"ok":false,"none":null,"no":true}']],
    ["Python's json.dumps spacing, tabs and CR", ['{"a": 1, "b": "x"}', ' \t{ "a" :1 ,"b":"y" }\r', "{}", "{ }", " {\t} "]],
    ["rows whose shapes change: more, fewer, other and reordered keys", ['{"a":1,"b":2}', '{"a":1,"b":2,"c":3}', '{"a":1}', '{"b":1,"a":2}', '{"ab":1}', '{"a":1,"bb":2}', '{"":1}']],
    ["strings: empty, 12 and 13 characters, long, non-ASCII, lone surrogates", ['{"s":""}', '{"s":"123456789012"}', '{"s":"1234567890123"}', `{"s":"${"w".repeat(500)}"}`, '{"s":"héllo ✓ 🎉","t":"日本語のテキスト、十三文字以上の長さ"}', '{"s":"\ud800x","t":"\udc00"}']],
    ["escapes and nesting go to JSON.parse", ['{"s":"a\\"b","t":"\\u00e9\\n"}', '{"a":{"b":[1,2,{"c":null}]},"d":[]}', '[1,2]', '"text"', "42", "null", '{"a\\u0062":1}']],
    ["numbers: JSON's grammar", ['{"n":-0}', '{"n":0}', '{"n":999999999999999,"m":-999999999999999}', '{"n":1000000000000000,"m":-9999999999999999}', '{"n":18014398509481985,"m":12345678901234567890}', '{"n":1e5,"m":1E-5,"o":2.5e+3}', '{"n":123456789012345678901234567890}', '{"n":0.1,"m":-12.5}', '{"n":9007199254740993}', '{"n":1e400,"m":-1e400}']],
    ["numbers outside it are errors", ['{"n":01}', '{"n":1.}', '{"n":.5}', '{"n":+1}', '{"n":1e}', '{"n":-}', '{"n":0x10}', '{"n":NaN}', '{"n":Infinity}', '{"n":1_000}', '{"n":--1}']],
    ["literals and their look-alikes", ['{"a":true,"b":false,"c":null}', '{"a":tru}', '{"a":truex}', '{"a":nul}', '{"a":True}', '{"a":undefined}']],
    ["broken objects", ['{"a":1,}', '{"a":1', '{"a" 1}', '{a:1}', "{'a':1}", '{"a":1}}', '{"a":1} x', '{"a":1}{"b":2}', '{"a":"x', '{"a":"x\ty"}', '{"a', '{', "", " ", '\ufeff{"a":1}']],
    ["duplicate keys: the last value, at the first key's place", ['{"a":1,"b":2,"a":3}', '{"a":1,"a":2}']],
    ["integer-like keys come first, as in any object", ['{"b":1,"2":2,"1":3,"a":4}', '{"10":1,"9":2}']],
    ["keys Object.prototype has: own properties, the prototype untouched", ['{"__proto__":{"polluted":true},"a":1}', '{"__proto__":1}', '{"toString":"x","constructor":1,"hasOwnProperty":null}', '{"a":1,"__proto__":"x"}']]
  ]
  for (const [name, lines] of cases) it(name, () => expectSameAsJsonParse(lines))
  // The same lines read for a few fields: JSON.parse's rows without the others, or its errors.
  for (const [name, lines] of cases) {
    it(`${name}, for some fields only`, () => {
      for (const columns of [["key"], ["a", "n"], ["s", "__proto__", "2"], [], ["missing"]]) expectSameAsProjectedJsonParse(lines, columns)
    })
  }

  it("projects: JSON.parse's row without the other fields, in its order", () => {
    const parse = FlatJson.makeParser(["text", "id"])
    expect(parse('{"id":1,"key":"k","text":"t","n":2.5}')).toStrictEqual({ id: 1, text: "t" })
    expect(Object.keys(parse('{"text":"u","id":2}') as object)).toStrictEqual(["text", "id"])
    expect(parse('{"key":"only"}')).toStrictEqual({})
    // Values JSON.parse must read (nested, escaped) are projected the same way.
    expect(parse('{"id":3,"meta":{"a":[1]},"text":"a\\"b"}')).toStrictEqual({ id: 3, text: 'a"b' })
    expect(parse("[1,2]")).toStrictEqual([1, 2])
    const proto = parse('{"__proto__":{"polluted":true},"id":4}') as Record<string, unknown>
    expect(proto).toStrictEqual({ id: 4 })
    expect(Object.getPrototypeOf(FlatJson.project({ ["__proto__"]: 1 }, new Set(["__proto__"])))).toBe(Object.prototype)
  })

  /** How many of `lines` JSON.parse reads whole while `parse` reads them. */
  const jsonParseCalls = (parse: (s: string) => unknown, lines: ReadonlyArray<string>): number => {
    const calls = vi.spyOn(JSON, "parse")
    try {
      for (const line of lines) parse(line)
      return calls.mock.calls.filter(([text]) => lines.includes(text as string)).length
    } finally {
      calls.mockRestore()
    }
  }
  const flatRows = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `{"id":${from + i},"key":"k${i % 7}","score":0.25,"ok":true,"none":null,"text":"a longer string value ${i}"}`)

  it("reads flat rows with short strings without JSON.parse, after its first 256 rows too", () => {
    const parse = FlatJson.makeParser()
    expect(jsonParseCalls(parse, flatRows(300))).toBe(0)
    expect(parse(flatRows(1, 300)[0]!)).toEqual({ id: 300, key: "k0", score: 0.25, ok: true, none: null, text: "a longer string value 0" })
  })

  it("leaves the rest of a file to JSON.parse when its first 256 rows mostly needed it", () => {
    const parse = FlatJson.makeParser()
    const nested = Array.from({ length: 256 }, (_, i) => `{"id":${i},"key":"k","meta":{"n":${i}}}`)
    expect(jsonParseCalls(parse, nested)).toBe(256)
    // A flat row now goes to JSON.parse at once.
    expect(jsonParseCalls(parse, flatRows(10))).toBe(10)
    // Fewer than a quarter is not enough.
    const mostlyFlat = FlatJson.makeParser()
    expect(jsonParseCalls(mostlyFlat, [...nested.slice(0, 60), ...flatRows(196)])).toBe(60)
    expect(jsonParseCalls(mostlyFlat, flatRows(10))).toBe(0)
  })

  it("leaves the rest of a file to JSON.parse when its first 256 rows carry too few short strings to gain from", () => {
    const long = "w".repeat(600)
    const parse = FlatJson.makeParser()
    expect(jsonParseCalls(parse, Array.from({ length: 256 }, (_, i) => `{"id":${i},"text":"${long}","score":${i / 3}}`))).toBe(0)
    expect(jsonParseCalls(parse, flatRows(10))).toBe(10)
  })

  it("skips the values of other fields without copying or converting them, whatever the strings", () => {
    // 256 rows of long strings and no short ones: without columns, JSON.parse would take the
    // rest of the file; a projection keeps reading here, and never calls JSON.parse on a line
    // or a value (long values it keeps are copied by it), only once on the template of the rows' shape.
    const long = "w".repeat(600)
    const rows = Array.from({ length: 300 }, (_, i) => `{"id":${i},"text":"${long}","score":${i / 3},"big":1.5e300}`)
    const parse = FlatJson.makeParser(["id"])
    const calls = vi.spyOn(JSON, "parse")
    try {
      for (const row of rows) parse(row)
      expect(calls.mock.calls).toStrictEqual([['{"id":null}']])
    } finally {
      calls.mockRestore()
    }
    expect(parse(rows[7]!)).toStrictEqual({ id: 7 })
  })

  it("copies long string values: a kept row does not keep its line alive", () => {
    // Lines of 2.4 MB; only a 100-character value of each is kept. Pointing into its line, the
    // kept values would hold 48 MB.
    const result = inFreshHeap([
      "const parse = FlatJson.makeParser(); const kept = []",
      "for (let i = 0; i < 20; i++) { const pad = Array.from({ length: 200000 }, () => Math.random().toString(36).slice(2)).join(' '); kept.push(parse(`{\"k\":\"${pad.slice(0, 100)}\",\"pad\":\"${pad}\"}`).k) }",
      "gc(); gc(); console.log(JSON.stringify({ heapMB: process.memoryUsage().heapUsed / 2 ** 20, kept: kept.length, length: kept[0].length }))"
    ]) as { heapMB: number; kept: number; length: number }
    expect(result.kept).toBe(20)
    expect(result.length).toBe(100)
    expect(result.heapMB).toBeLessThan(24)
  }, 30_000)

  it("makes rows that take little more memory than JSON.parse's (a shuffle buffers them)", () => {
    // Short values are copies, not interned; the rest must not cost more (properties inside the
    // object, long values without a wrapper). 100,000 rows like the bench's, each parser in a
    // process of its own (a second measurement in the same heap comes out larger).
    const bytesPerRow = (parser: "json" | "flat"): number => inFreshHeap([
      "const lines = Array.from({ length: 100000 }, (_, i) => JSON.stringify({ id: i, key: `k${i % 10007}`, user: `u${(i * 7919) % 99991}`, doc: `d${i * 3}`, score: (i % 1000) / 1000, text: `w${i} lorem ipsum dolor sit amet ${i % 97} consectetur` }))",
      `const parse = ${parser === "flat" ? "FlatJson.makeParser()" : "JSON.parse"}`,
      "gc(); gc(); const before = process.memoryUsage().heapUsed; const rows = lines.map(parse); gc(); gc()",
      "console.log((process.memoryUsage().heapUsed - before) / rows.length)"
    ]) as number
    const json = bytesPerRow("json")
    expect(json).toBeGreaterThan(100)
    expect(bytesPerRow("flat")).toBeLessThan(json * 1.25)
  }, 30_000)

  it("never touches Object.prototype", () => {
    const parse = FlatJson.makeParser()
    const row = parse('{"__proto__":{"polluted":true}}') as Record<string, unknown>
    expect(Object.getPrototypeOf(row)).toBe(Object.prototype)
    expect(Object.hasOwn(row, "__proto__")).toBe(true)
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
  })

  // Flat rows of JSON's scalars (with keys JSON must escape), laid out with any of JSON's whitespace.
  const space = fc.stringMatching(/^[ \t\r\n]{0,2}$/)
  const scalar = fc.oneof(fc.string({ unit: "binary" }), fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom(-0, 1e21, 5e-324))
  const flatRow = fc.tuple(fc.array(fc.tuple(fc.oneof(fc.string(), fc.constantFrom("a", "b", "id", "__proto__", "0", "1")), scalar), { maxLength: 6 }), space, space)
    .map(([entries, before, between]) =>
      `${before}{${entries.map(([k, v]) => `${between}${JSON.stringify(k)}${between}:${between}${JSON.stringify(v) ?? "null"}${between}`).join(",")}}${before}`)

  it("agrees with JSON.parse on any sequence of flat rows", () => {
    fc.assert(fc.property(fc.array(flatRow, { minLength: 1, maxLength: 8 }), (lines) => expectSameAsJsonParse(lines)), { numRuns: 2000 })
  })

  const columns = fc.array(fc.oneof(fc.string(), fc.constantFrom("a", "b", "id", "__proto__", "0", "1")), { maxLength: 4 })

  it("agrees with JSON.parse, projected, on any sequence of flat rows and any fields", () => {
    fc.assert(fc.property(fc.array(flatRow, { minLength: 1, maxLength: 8 }), columns, (lines, cols) => expectSameAsProjectedJsonParse(lines, cols)), { numRuns: 2000 })
  })

  // Rows of one shape: the second and later are built from a template of it.
  const sameShape = fc.tuple(fc.array(fc.oneof(fc.string(), fc.constantFrom("a", "b", "0", "1", "10")), { maxLength: 6 }), fc.array(fc.array(scalar, { minLength: 6, maxLength: 6 }), { minLength: 2, maxLength: 6 }))
    .map(([keys, rows]) => rows.map((values) => `{${keys.map((k, i) => `${JSON.stringify(k)}:${JSON.stringify(values[i]) ?? "null"}`).join(",")}}`))

  it("agrees with JSON.parse on rows of one shape, and after a change of shape", () => {
    fc.assert(fc.property(fc.array(sameShape, { minLength: 1, maxLength: 3 }), (groups) => expectSameAsJsonParse(groups.flat())), { numRuns: 1000 })
  })

  it("agrees with JSON.parse, projected, on rows of one shape, and after a change of shape", () => {
    fc.assert(fc.property(fc.array(sameShape, { minLength: 1, maxLength: 3 }), columns, (groups, cols) => expectSameAsProjectedJsonParse(groups.flat(), cols)), { numRuns: 1000 })
  })

  it("agrees with JSON.parse on any JSON value", () => {
    fc.assert(fc.property(fc.array(fc.json(), { minLength: 1, maxLength: 4 }), (lines) => expectSameAsJsonParse(lines)), { numRuns: 1000 })
  })

  it("agrees with JSON.parse, projected, on any JSON value", () => {
    fc.assert(fc.property(fc.array(fc.json(), { minLength: 1, maxLength: 4 }), columns, (lines, cols) => expectSameAsProjectedJsonParse(lines, cols)), { numRuns: 1000 })
  })

  it("agrees with JSON.parse on rows with a character changed, dropped or added: the same value or the same error", () => {
    const edit = fc.tuple(flatRow, fc.nat(), fc.constantFrom("change", "drop", "add"), fc.constantFrom(..."{}[]\":,.-+0123456789eEtrufalsn \\\t\u0000x"))
      .map(([line, at, how, c]) => {
        const i = line.length === 0 ? 0 : at % line.length
        return how === "drop" ? line.slice(0, i) + line.slice(i + 1) : how === "add" ? line.slice(0, i) + c + line.slice(i) : line.slice(0, i) + c + line.slice(i + 1)
      })
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (lines) => expectSameAsJsonParse(lines)), { numRuns: 5000 })
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), columns, (lines, cols) => expectSameAsProjectedJsonParse(lines, cols)), { numRuns: 5000 })
  })
})
