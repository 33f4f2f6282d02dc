import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Pipeline, Zephyr } from "zephyr"

// Golden explain outputs, reviewed like esbuild's snapshot tests: a change to the planner
// shows up as a diff of these files.
const rules = fs.readdirSync("test/compiler/fixtures/rules").filter((f) => f.endsWith(".ts")).sort()
const examples = fs.readdirSync("examples").filter((f) => f.endsWith(".ts")).sort()

const explain = async (file: string, format: "text" | "json" | "dot") => {
  const loaded = await Pipeline.load(file)
  return Zephyr.compile(loaded.dataset, { module: loaded.module }).explain(format)
}

describe("golden explain output", () => {
  for (const f of rules) {
    it(`rule ${f}`, async () => {
      const file = path.join("test/compiler/fixtures/rules", f)
      await expect(await explain(file, "text")).toMatchFileSnapshot(`./golden/rules/${f.replace(/\.ts$/, ".txt")}`)
    })
  }
  for (const f of examples) {
    it(`example ${f}`, async () => {
      const file = path.join("examples", f)
      const base = `./golden/examples/${f.replace(/\.ts$/, "")}`
      await expect(await explain(file, "text")).toMatchFileSnapshot(`${base}.txt`)
      await expect(await explain(file, "json")).toMatchFileSnapshot(`${base}.json`)
      await expect(await explain(file, "dot")).toMatchFileSnapshot(`${base}.dot`)
    })
  }
})
