import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Pipeline, Zephyr } from "zephyr"

const fixtures = path.resolve("test/compiler/fixtures/codehash")
const original = fs.readFileSync(path.join(fixtures, "pipeline.ts"), "utf8")
const scale = fs.readFileSync(path.join(fixtures, "scale.ts"), "utf8")

// Copies live under out/ so that `import "zephyr"` resolves from them.
const copies: Array<string> = []
afterAll(() => {
  for (const d of copies) fs.rmSync(d, { recursive: true, force: true })
})

const edited = (edit: (text: string) => string, editScale: (text: string) => string = (t) => t): string => {
  fs.mkdirSync("out", { recursive: true })
  const dir = fs.mkdtempSync(path.resolve("out", "codehash-"))
  copies.push(dir)
  const text = edit(original)
  const scaleText = editScale(scale)
  expect(text !== original || scaleText !== scale || edit === same).toBe(true)
  fs.writeFileSync(path.join(dir, "pipeline.ts"), text)
  fs.writeFileSync(path.join(dir, "scale.ts"), scaleText)
  return path.join(dir, "pipeline.ts")
}

const same = (t: string) => t

const fingerprintOf = async (file: string): Promise<string> => Zephyr.compile((await Pipeline.load(file)).dataset).fingerprint

const replaced = (from: string, to: string) => (text: string) => {
  expect(text).toContain(from)
  return text.replace(from, to)
}

describe("CodeHash: the fingerprint covers function bodies", () => {
  it("is the same under esbuild (Pipeline.load), vite (vitest's loader) and tsx", async () => {
    const file = path.join(fixtures, "pipeline.ts")
    const esbuild = await fingerprintOf(file)
    const viaVite = Zephyr.compile(((await import("./fixtures/codehash/pipeline.ts")) as { default: () => Parameters<typeof Zephyr.compile>[0] }).default()).fingerprint
    const viaTsx = execFileSync("npx", ["tsx", path.join(fixtures, "print-fingerprint.ts"), file], { encoding: "utf8", timeout: 120_000 })
    expect(viaVite).toBe(esbuild)
    expect(viaTsx).toBe(esbuild)
  }, 180_000)

  it("changes after a one-character change to an inline arrow, a named function, the helper it calls, or an imported function", async () => {
    const base = await fingerprintOf(edited(same))
    const changes = [
      edited(replaced("(x) => x * 2", "(x) => x * 3")),
      edited(replaced("clamp(x + 1)", "clamp(x + 2)")),
      edited(replaced("Math.min(x, 100)", "Math.min(x, 101)")),
      edited(same, replaced("x * 3", "x * 4"))
    ]
    const prints = await Promise.all(changes.map(fingerprintOf))
    for (const p of prints) expect(p).not.toBe(base)
    expect(new Set(prints).size).toBe(prints.length)
  }, 60_000)

  it("stays the same when only comments and formatting change", async () => {
    const base = await fingerprintOf(edited(same))
    const reformatted = edited((text) =>
      text
        .replace("const clamp = (x: number): number => Math.min(x, 100)", "// caps a value\nconst clamp = (x: number): number => Math.min(\n  x,\n  100,\n);")
        .replace("  return clamp(x + 1)\n", "  /* one more */ return clamp( x+1 );\n")
        .replace(".map((x) => x * 2)", ".map(x => x * 2)  // doubles")
        .replace('typeof x === "number")', "typeof x === 'number',\n    )")
    )
    expect(fs.readFileSync(reformatted, "utf8")).not.toBe(original)
    expect(await fingerprintOf(reformatted)).toBe(base)
  }, 60_000)
})
