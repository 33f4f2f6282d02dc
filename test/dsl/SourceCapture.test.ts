import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")

/**
 * A plain ES module calling the built engine's DSL wrongly on known lines, first as Node
 * formats stacks, then with a formatter of its own installed (as source-map-support and test
 * runners install one), then with Node's source maps on, as the module loader turns them on.
 */
const program = (file: string) => [
  `import { Dataset } from ${JSON.stringify(path.join(root, "dist", "index.js"))}`,
  `const where = (build) => { try { build() } catch (e) { return { file: e.file, line: e.line } } }`,
  `const nodes = where(() => Dataset.fromList("not a list"))`,
  `Error.prepareStackTrace = (error, sites) => [String(error), ...sites.map((s) => "    at " + s)].join("\\n")`,
  `const installed = where(() => Dataset.fromList("not a list"))`,
  `delete Error.prepareStackTrace`,
  `process.setSourceMapsEnabled(true)`,
  `const sourceMaps = where(() => Dataset.fromList("not a list"))`,
  `console.log(JSON.stringify({ nodes, installed, sourceMaps, file: ${JSON.stringify(file)} }))`
].join("\n")

describe("SourceCapture: the DSL call's file and line, however stacks are formatted", () => {
  it("is the same from V8's call sites and from a formatter someone installed", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-capture-"))
    try {
      const file = path.join(dir, "pipeline.mjs")
      fs.writeFileSync(file, program(file))
      const out = JSON.parse(execFileSync(process.execPath, [file], { cwd: dir, encoding: "utf8" })) as Record<string, { file: string; line: number }>
      expect(out.nodes).toEqual({ file: "pipeline.mjs", line: 3 })
      expect(out.installed).toEqual({ file: "pipeline.mjs", line: 5 })
      expect(out.sourceMaps).toEqual({ file: "pipeline.mjs", line: 8 })
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
