import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CorruptInput } from "../../../runtime/formats/Compression.ts"
import { lines } from "../../../runtime/formats/Lines.ts"

async function* pieces(...parts: Array<string | Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const p of parts) yield typeof p === "string" ? Buffer.from(p) : p
}

const collect = async (source: AsyncIterable<Uint8Array>) => {
  const out: Array<{ n: number; line: string | Uint8Array }> = []
  for await (const block of lines(source)) block.lines.forEach((line, i) => out.push({ n: block.first + i, line }))
  return out
}

describe("lines", () => {
  it("splits across chunk boundaries, handles \\r\\n, a missing final newline and a BOM", async () => {
    const out = await collect(pieces("\uFEFFfirst\r\nsec", "ond\n\nth", "ird\r", "\nlast"))
    expect(out).toEqual([
      { n: 1, line: "first" }, { n: 2, line: "second" }, { n: 3, line: "" }, { n: 4, line: "third" }, { n: 5, line: "last" }
    ])
  })

  it("keeps a multi-byte character split between chunks", async () => {
    const bytes = Buffer.from("héllo wörld\n")
    const out = await collect(pieces(bytes.subarray(0, 2), bytes.subarray(2, 9), bytes.subarray(9)))
    expect(out).toEqual([{ n: 1, line: "héllo wörld" }])
  })

  it("reports only the lines that are not UTF-8, as bytes", async () => {
    const out = await collect(pieces(Buffer.concat([Buffer.from("ok\n"), Buffer.from([0x62, 0xff, 0x0a]), Buffer.from("fine\n")])))
    expect(out[0]).toEqual({ n: 1, line: "ok" })
    expect(out[1]!.n).toBe(2)
    expect(Buffer.from(out[1]!.line as Uint8Array)).toEqual(Buffer.from([0x62, 0xff]))
    expect(out[2]).toEqual({ n: 3, line: "fine" })
  })

  it("gives an empty input no lines and a lone newline one empty line", async () => {
    expect(await collect(pieces())).toEqual([])
    expect(await collect(pieces("\n"))).toEqual([{ n: 1, line: "" }])
  })

  it("tells a CorruptInput which line it interrupted and what of it was read", async () => {
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield Buffer.from("a\nb\npar")
      throw new CorruptInput("f", "boom")
    }
    const seen: Array<string | Uint8Array> = []
    let error: CorruptInput | undefined
    try {
      for await (const block of lines(broken())) seen.push(...block.lines)
    } catch (e) {
      error = e as CorruptInput
    }
    expect(seen).toEqual(["a", "b"])
    expect(error?.line).toBe(3)
    expect(error?.partial).toBe("par")
  })

  it("gives the same lines however the bytes are cut into chunks", async () => {
    const line = fc.array(fc.constantFrom("a", "é", "字", "😀", " ", "\r", "\uFEFF"), { maxLength: 12 }).map((cs) => cs.join(""))
    await fc.assert(fc.asyncProperty(
      fc.array(line, { maxLength: 20 }), fc.boolean(), fc.array(fc.nat({ max: 200 }), { maxLength: 12 }),
      async (ls, finalNewline, cutAt) => {
        const text = ls.join("\n") + (finalNewline && ls.length > 0 ? "\n" : "")
        const bytes = Buffer.from(text)
        const cuts = [...new Set(cutAt.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
        const parts = [0, ...cuts, bytes.length].slice(1).map((end, i, ends) => bytes.subarray(i === 0 ? 0 : ends[i - 1], end))
        const expected = text.length === 0 ? [] : text.replace(/^\uFEFF/, "").split("\n").map((l) => l.replace(/\r$/, ""))
        if (text.endsWith("\n")) expected.pop()
        expect((await collect(pieces(...parts))).map((o) => o.line)).toEqual(expected)
      }
    ), { numRuns: 300 })
  })
})
