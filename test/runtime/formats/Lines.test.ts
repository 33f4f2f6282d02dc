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
})
