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

describe("CodeHash.ofStages: each stage's fingerprint covers the code it depends on", () => {
  const dir = path.join(fixtures, "stages")
  const names = fs.readdirSync(dir).filter((f) => f.endsWith(".ts"))

  /** A copy of the fixture with `edits` (file → edit) applied; the stage fingerprints of its plan. */
  const stagePrints = async (edits: Readonly<Record<string, (text: string) => string>> = {}): Promise<Array<string>> => {
    fs.mkdirSync("out", { recursive: true })
    const copy = fs.mkdtempSync(path.resolve("out", "codehash-stages-"))
    copies.push(copy)
    for (const name of names) {
      const text = fs.readFileSync(path.join(dir, name), "utf8")
      const edit = edits[name] ?? same
      expect(edit === same || edit(text) !== text, `the edit of ${name} changes it`).toBe(true)
      fs.writeFileSync(path.join(copy, name), edit(text))
    }
    const loaded = await Pipeline.load(path.join(copy, "pipeline.ts"))
    const prints = Zephyr.compile(loaded.dataset, { module: loaded.module }).stages.map((s) => s.fingerprint)
    for (const p of prints) expect(p).toMatch(/^[0-9a-f]{16}$/)
    return prints
  }

  /** The ids of the stages whose fingerprint `edits` change. */
  const changedBy = async (edits: Readonly<Record<string, (text: string) => string>>): Promise<Array<number>> => {
    const [base, after] = await Promise.all([stagePrints(), stagePrints(edits)])
    expect(after).toHaveLength(base.length)
    return after.flatMap((p, i) => (p === base[i] ? [] : [i]))
  }

  // Stage 0: the left side's filter, map and groupBy scatter; 1 and 2: the right side (users.ts);
  // 3: the left groupBy's reduce, the join and the last map.
  it("is different for every stage, and the same for the same code", async () => {
    const [a, b] = await Promise.all([stagePrints(), stagePrints()])
    expect(a).toEqual(b)
    expect(new Set(a).size).toBe(4)
  }, 60_000)

  it.each<[string, Readonly<Record<string, (text: string) => string>>, Array<number>]>([
    ["a function only the last stage runs: that stage", { "pipeline.ts": replaced("r.sum + bonus", "r.sum + bonus + 1") }, [3]],
    ["a groupBy's reducer: its reduce stage", { "pipeline.ts": replaced("sum += r.n", "sum += r.n * 2") }, [3]],
    ["a groupBy's key function: its scatter stage and the stages after it", { "pipeline.ts": replaced("=> r.key\n", "=> r.key + 0\n") }, [0, 3]],
    ["a function of the first stage: it and the stages after it, not the join's other side", { "pipeline.ts": replaced("w.length * scale", "w.length * scale * 2") }, [0, 3]],
    ["a value imported from a local file that only the last stage reads", { "config.ts": replaced("100", "101") }, [3]],
    ["a function of the right side, in another file: the right side and the join", { "users.ts": replaced("key * k", "key * k + 1") }, [1, 2, 3]],
    ["the argument of the helper that builds the right side: the right side and the join", { "pipeline.ts": replaced("users(3)", "users(4)") }, [1, 2, 3]],
    ["a let the builder reassigns, which the first stage reads: every stage (the builder's statements count for all)", { "pipeline.ts": replaced("scale = 2", "scale = 3") }, [0, 1, 2, 3]],
    ["a table a top-level loop fills: every stage (a top-level statement counts for all)", { "pipeline.ts": replaced('["a", "the"]', '["a", "the", "bb"]') }, [0, 1, 2, 3]],
    ["a file imported for its side effects: every stage", { "setup.ts": replaced("= 1", "= 2") }, [0, 1, 2, 3]],
    ["comments and formatting only: no stage", {
      "pipeline.ts": (t) => replaced("function total(key", "// sums a group\nfunction total(\n  key")(t).replace(".map((r) => ({ ...r, sum: r.sum + bonus }))", ".map(r => ({ ...r, sum: r.sum + bonus, }));  /* last */"),
      "users.ts": (t) => t.replace("key * k", "key  *  k").replace("{ numOutputShards: 2 })", "{ numOutputShards: 2 }, )")
    }, []]
  ])("a change to %s", async (_name, edits, expected) => {
    expect(await changedBy(edits)).toEqual(expected)
  }, 60_000)
})
