import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { Pipeline, Zephyr } from "zephyr"

// The README shows a newcomer the pipeline and its plan: both must stay true.
const readme = fs.readFileSync("README.md", "utf8")
const block = (lang: string, after: string) => {
  const start = readme.indexOf("```" + lang, readme.indexOf(after))
  return readme.slice(readme.indexOf("\n", start) + 1, readme.indexOf("```", start + 3))
}

describe("README", () => {
  it("shows examples/wordcount.ts as it is", () => {
    const shown = block("ts", "## A pipeline").replace(/^\/\/ examples\/wordcount\.ts\n/, "")
    const source = fs.readFileSync("examples/wordcount.ts", "utf8")
    expect(source.slice(source.indexOf("import { Dataset }"))).toBe(shown)
  })

  it("shows the plan `zephyr compile examples/wordcount.ts --explain` prints", async () => {
    const loaded = await Pipeline.load("examples/wordcount.ts")
    expect(block("text", "## The plan")).toBe(Zephyr.compile(loaded.dataset).explain("text"))
  })

  it("names the test command that CI runs", () => {
    expect(readme).toContain("npm test")
    expect(fs.readFileSync(".ci/run", "utf8")).toContain("npm test")
  })
})
