import { describe, expect, it } from "vitest"
import * as Project from "../../../compiler/analysis/Project.ts"

describe("Project: which modules need Node's types", () => {
  const table: ReadonlyArray<readonly [string, string, boolean]> = [
    ["names nothing of Node", "export const f = (x: number) => x + 1", false],
    ["reads process.env", "export const dir = process.env.HOME ?? \"/tmp\"", true],
    ["uses Buffer in a type", "export const size = (b: Buffer) => b.length", true],
    ["logs with console", "export const log = (s: string) => console.log(s)", true],
    // A pipeline's own names that happen to be Node globals (examples/reshard.ts's `Event`):
    ["declares its own interface Event", "interface Event { readonly kind: string }\nexport const isBuy = (e: Event) => e.kind === \"buy\"", false],
    ["declares its own const process", "const process = (x: number) => x * 2\nexport const f = (x: number) => process(x)", false],
    ["imports a name that is a Node global", "import { URL } from \"./url.ts\"\nexport const u = (s: string) => new URL(s)", false],
    ["reads a property named like a global", "export const f = (r: { process: string; console: number }) => r.process + r?.console", false],
    ["names a global in a comment or a string only", "// process.env.X\nexport const s = \"Buffer\"", false]
  ]
  for (const [name, code, expected] of table) {
    it(`${name}: ${expected ? "needs" : "does not need"} @types/node`, () => {
      expect(Project.namesNodeGlobal(code)).toBe(expected)
    })
  }
})

describe("Project: Node's globals, the cases that must still need Node's types", () => {
  const table: ReadonlyArray<readonly [string, string]> = [
    ["a local const process inside a function, and the global process elsewhere", "function f() { const process = 1; return process }\nexport const home = process.env.HOME"],
    ["a global inside a template substitution", "export const s = `home: ${process.env.HOME} {}`"],
    ["a global after a template with braces in its text", "export const s = `{ ${1} }`\nexport const t = Buffer.from(s)"],
    ["a conditional whose branch is a global", "export const c = (x: boolean) => x ? console : null"],
    ["an optional property type whose name is a global, then a use", "type R = { process?: string }\nexport const f = (r: R) => r.process ?? process.cwd()"]
  ]
  for (const [name, code] of table) {
    it(`${name}: needs @types/node`, () => { expect(Project.namesNodeGlobal(code)).toBe(true) })
  }
})
