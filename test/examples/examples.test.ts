import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Pipeline, Zephyr } from "zephyr"

// Every example runs twice: in-process, and on two worker processes; both must agree.
const examples = fs.readdirSync("examples").filter((f) => f.endsWith(".ts")).sort()
let dir: string
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-examples-")) })
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Results, with written files replaced by their sorted lines so that two runs compare. */
const contents = (results: ReadonlyArray<unknown>): Array<unknown> =>
  results.map((r) => (typeof r === "string" && fs.existsSync(r) ? fs.readFileSync(r, "utf8").split("\n").filter(Boolean).sort() : r))

const canonical = (xs: Array<unknown>) => xs.map((x) => JSON.stringify(x)).sort()

describe("examples", () => {
  for (const file of examples) {
    it(`${file}: in-process and two worker processes give the same results`, async () => {
      const args = (run: string) => ({ out: path.join(dir, file, run) })
      const loaded = await Pipeline.load(path.join("examples", file), { args: args("in-process") })
      const local = await Zephyr.runModule(path.join("examples", file), { workers: 2, args: args("local") })
      const inProcess = await Zephyr.run(loaded.dataset, { backend: "in-process", workers: 2, ...(loaded.layer ? { layer: loaded.layer } : {}) })
      expect(local.results.length).toBeGreaterThan(0)
      expect(canonical(contents(local.results))).toEqual(canonical(contents(inProcess.results)))
    })
  }

  it("wordcount counts every word of the bundled text", async () => {
    const r = await Zephyr.runModule<string>("examples/wordcount.ts", { workers: 2, args: { out: path.join(dir, "wc") } })
    expect(r.results.map((p) => path.basename(p))).toEqual(["counts-00000-of-4.jsonl", "counts-00001-of-4.jsonl", "counts-00002-of-4.jsonl", "counts-00003-of-4.jsonl"])
    const counts = new Map<string, number>()
    for (const p of r.results) for (const line of fs.readFileSync(p, "utf8").split("\n").filter(Boolean)) {
      const { word, count } = JSON.parse(line)
      expect(counts.has(word)).toBe(false)
      counts.set(word, count)
    }
    const expected = new Map<string, number>()
    for (const f of fs.readdirSync("examples/data/text")) {
      for (const w of fs.readFileSync(path.join("examples/data/text", f), "utf8").toLowerCase().match(/[a-z0-9']+/g) ?? []) expected.set(w, (expected.get(w) ?? 0) + 1)
    }
    expect(Object.fromEntries([...counts].sort())).toEqual(Object.fromEntries([...expected].sort()))
  })

  it("tokenize builds its tokenizer once per worker and counts tokens of every document", async () => {
    const r = await Zephyr.runModule<{ id: string; tokens: number }>("examples/tokenize.ts", { workers: 2 })
    expect(r.results).toHaveLength(75)
    expect(r.results.every((d) => d.tokens > 0)).toBe(true)
    expect(r.counters.tokenizers_built_per_worker).toBe(1)
    expect(r.counters.tokens).toBe(r.results.reduce((s, d) => s + d.tokens, 0))
  })

  it("count and join give the numbers the bundled data implies", async () => {
    const events = fs.readdirSync("examples/data/events").flatMap((f) => fs.readFileSync(path.join("examples/data/events", f), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)))
    const count = await Zephyr.run((await Pipeline.load("examples/count.ts")).dataset)
    expect(count.results).toEqual([events.filter((e) => e.kind === "buy" && e.amount > 50).length])
    const join = await Zephyr.run((await Pipeline.load("examples/join.ts")).dataset)
    const spend = new Map<number, number>()
    for (const e of events) if (e.kind === "buy") spend.set(e.user, (spend.get(e.user) ?? 0) + e.amount)
    expect(join.results.map((r: any) => [r.id, r.total]).sort((a, b) => a[0] - b[0])).toEqual([...spend].sort((a, b) => a[0] - b[0]))
    expect(join.results.filter((r: any) => r.id > 60).every((r: any) => r.name === null)).toBe(true)
    expect(join.results.filter((r: any) => r.id <= 60).every((r: any) => r.name === `user${String(r.id).padStart(3, "0")}`)).toBe(true)
  })
})
