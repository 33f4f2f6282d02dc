import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { Diagnostic, Zephyr } from "zephyr"
import * as Report from "../../../compiler/analysis/Report.ts"

// One fixture module per diagnostic code, each line that must get a diagnostic marked
// `// expect: <code>`; the whole report is a golden file, reviewed like explain's.
const fixtures = "test/compiler/analysis/fixtures"
const files = fs.readdirSync(fixtures).filter((f) => f.endsWith(".ts")).sort()
const codeOf = (file: string) => file.replace(/(\.bad)?\.ts$/, "")

const marked = (file: string): Array<string> =>
  fs.readFileSync(file, "utf8").split("\n").flatMap((line, i) => [...line.matchAll(/\/\/ expect: ([a-z-]+)/g)].map((m) => `${m[1]}@${i + 1}`))

describe("diagnostics, one fixture per code", () => {
  it("every code has its fixture, and every fixture is a code", () => {
    expect(files.map(codeOf)).toEqual([...Diagnostic.codes].sort())
  })

  for (const f of files) {
    it(`${codeOf(f)} fires at the marked lines`, async () => {
      const file = path.join(fixtures, f)
      const diagnostics = await Zephyr.check(file)
      expect(diagnostics.map((d) => `${d.code}@${d.line}`)).toEqual(marked(file))
      for (const d of diagnostics) {
        expect(d.file).toBe(file)
        expect(d.severity).toBe(d.code === "type-error" || d.code === "syntax-error" || d.code === "unresolvable-import" || d.code === "computed-dynamic-import" || d.code === "nondeterministic-key" || d.code === "nondeterministic-builder" ? "error" : "warning")
        expect(d.hint.length).toBeGreaterThan(0)
      }
      await expect(Report.text(diagnostics)).toMatchFileSnapshot(`./golden/${codeOf(f)}.txt`)
    })
  }
})

describe("the README", () => {
  it("shows `zephyr check` of a fixture as it prints it", async () => {
    const readme = fs.readFileSync("README.md", "utf8")
    const shown = /```text\n\$ npx zephyr check (\S+)\n([\s\S]*?)```/.exec(readme)
    expect(shown).not.toBeNull()
    const [, file, output] = shown!
    const diagnostics = await Zephyr.check(file!)
    expect(output).toBe(`${Report.text(diagnostics)}${file}: ${Report.summary(diagnostics)}\n`)
  })
})

describe("pipelines that must check clean", () => {
  const examples = fs.readdirSync("examples").filter((f) => f.endsWith(".ts")).sort()
  for (const f of examples) {
    it(`example ${f} has no diagnostics`, async () => {
      expect(await Zephyr.check(path.join("examples", f))).toEqual([])
    })
  }

  // Every README block that is a pipeline module, checked as a file of the project.
  const readme = fs.readFileSync("README.md", "utf8")
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('from "zephyr"') && b.includes("export default"))
  const scratch = fs.mkdtempSync(path.join("test/compiler/analysis", ".readme-"))
  afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }))
  it("the README has pipelines to check", () => {
    expect(blocks.length).toBeGreaterThan(0)
  })
  blocks.forEach((block, i) => {
    it(`README pipeline ${i + 1} has no diagnostics`, async () => {
      const file = path.join(scratch, `pipeline-${i + 1}.ts`)
      fs.writeFileSync(file, block)
      expect(await Zephyr.check(file)).toEqual([])
    })
  })
})
