import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Advice, Pipeline, Zephyr } from "zephyr"

// One fixture module per advice code, each DSL call that must get advice marked
// `// advice: <code>`, and the advice explain prints for it as a golden file; beside each,
// a `.none.ts` of near misses that must get none. Every `export const` of a fixture is a
// pipeline of its own.
const fixtures = "test/compiler/analysis/fixtures/advice"
const files = fs.readdirSync(fixtures).filter((f) => f.endsWith(".ts")).sort()
const positives = files.filter((f) => !f.endsWith(".none.ts"))
const negatives = files.filter((f) => f.endsWith(".none.ts"))
const codeOf = (file: string) => file.replace(/(\.none)?\.ts$/, "")

const exportsOf = (file: string): Array<string> => [...fs.readFileSync(file, "utf8").matchAll(/^export const (\w+) =/gm)].map((m) => m[1]!)

const marked = (file: string): Array<string> =>
  fs.readFileSync(file, "utf8").split("\n").flatMap((line, i) => [...line.matchAll(/\/\/ advice: ([a-z-]+)/g)].map((m) => `${m[1]}@${i + 1}`))

/** The advice of each pipeline a fixture exports, and explain's text of it (the plan left out). */
const adviceOf = async (file: string, name?: string) => {
  const loaded = await Pipeline.load(file, { export: name })
  const plan = Zephyr.compile(loaded.dataset, { module: loaded.module })
  const advice = await plan.advice()
  const text = plan.explain("text", advice)
  return { plan, advice, text: text.slice(text.indexOf("\nadvice\n") + 1) }
}

describe("advice, one fixture per code", () => {
  it("every code has its fixture and its near misses", () => {
    expect(positives.map(codeOf)).toEqual([...Advice.codes].sort())
    expect(negatives.map(codeOf)).toEqual([...Advice.codes].sort())
  })

  for (const f of positives) {
    it(`${codeOf(f)} is advised at the marked calls`, async () => {
      const file = path.join(fixtures, f)
      const found: Array<string> = []
      let golden = ""
      for (const name of exportsOf(file)) {
        const { plan, advice, text } = await adviceOf(file, name)
        for (const a of advice) {
          expect(a.file).toBe(file)
          expect(a.fix.length).toBeGreaterThan(0)
          // The op it names runs in the stage it names, and was written where it says.
          const op = plan.stages.find((s) => s.id === a.stage)?.ops.find((o) => o.id === a.op)
          expect(op?.source).toEqual({ file: a.file, line: a.line, column: a.column })
          found.push(`${a.code}@${a.line}`)
        }
        golden += `== export ${name}\n${advice.length > 0 ? text : ""}`
      }
      expect(found.sort()).toEqual(marked(file).sort())
      await expect(golden).toMatchFileSnapshot(`./golden/advice/${codeOf(f)}.txt`)
    }, 180_000)
  }

  for (const f of negatives) {
    it(`${codeOf(f)}: no advice for its near misses`, async () => {
      const file = path.join(fixtures, f)
      const names = exportsOf(file)
      expect(names.length).toBeGreaterThan(1)
      for (const name of names) expect({ name, advice: (await adviceOf(file, name)).advice }).toEqual({ name, advice: [] })
    }, 180_000)
  }
})

describe("pipelines that get no advice", () => {
  const examples = fs.readdirSync("examples").filter((f) => f.endsWith(".ts")).sort()
  for (const f of examples) {
    it(`example ${f}`, async () => {
      expect((await adviceOf(path.join("examples", f))).advice).toEqual([])
    }, 120_000)
  }

  const readme = fs.readFileSync("README.md", "utf8")
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('from "zephyr"') && b.includes("export default"))
  const scratch = fs.mkdtempSync(path.join("test/compiler/analysis", ".readme-advice-"))
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))
  blocks.forEach((block, i) => {
    it(`README pipeline ${i + 1}`, async () => {
      const file = path.join(scratch, `pipeline-${i + 1}.ts`)
      fs.writeFileSync(file, block)
      expect((await adviceOf(file)).advice).toEqual([])
    }, 120_000)
  })
})

describe("the README", () => {
  it("shows the advice `zephyr compile --explain` prints for a fixture", async () => {
    const readme = fs.readFileSync("README.md", "utf8")
    const shown = /```text\n\$ npx zephyr compile (\S+) --export (\w+) --explain\n\.\.\.\n([\s\S]*?)```/.exec(readme)
    expect(shown).not.toBeNull()
    const [, file, name, output] = shown!
    expect((await adviceOf(file!, name)).text).toBe(output)
  }, 120_000)
})
