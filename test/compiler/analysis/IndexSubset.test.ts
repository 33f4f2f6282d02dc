import * as fs from "node:fs"
import * as path from "node:path"
import { ts } from "ts-morph"
import { describe, expect, it } from "vitest"
import * as IndexSubset from "../../../compiler/analysis/IndexSubset.ts"
import * as Project from "../../../compiler/analysis/Project.ts"
import * as Analyzer from "../../../compiler/analysis/Analyzer.ts"
import { useTempDirs } from "../../TempDirs.ts"

const source = (code: string) => ts.createSourceFile("m.ts", code, ts.ScriptTarget.Latest, true)

describe("IndexSubset.namedImports", () => {
  const table: ReadonlyArray<readonly [string, string, ReadonlyArray<string> | undefined]> = [
    ["named imports, aliased and type-only, over two declarations", `import { Effect, Layer as L } from "effect"\nimport type { Schema } from "effect"\n`, ["Effect", "Layer", "Schema"]],
    ["a named re-export", `export { pipe } from "effect"\n`, ["pipe"]],
    ["a bare import, for its effects", `import "effect"\n`, []],
    ["a namespace import", `import * as E from "effect"\n`, undefined],
    ["a default import", `import E, { Effect } from "effect"\n`, undefined],
    ["export * from it", `export * from "effect"\n`, undefined],
    ["export * as from it", `export * as E from "effect"\n`, undefined],
    ["an import() type beside a named import", `import { Effect } from "effect"\nexport type T = typeof import("effect")\n`, undefined],
    ["a dynamic import", `import { Effect } from "effect"\nexport const load = () => import('effect')\n`, undefined],
    ["a mention in a comment (when unsure, the whole module)", `import { Effect } from "effect"\n// from "effect"\n`, undefined],
    ["no import of it", `import { Effect } from "effect/Effect"\n`, undefined]
  ]
  for (const [name, code, expected] of table) {
    it(name, () => expect(IndexSubset.namedImports(source(code), "effect")).toEqual(expected))
  }
})

describe("IndexSubset.make", () => {
  const effectIndex = path.resolve("node_modules/effect/dist/dts/index.d.ts")
  const tempDir = useTempDirs("zephyr-index-subset-")

  it("re-exports exactly the names asked for, as Effect's index does, beside it", () => {
    const subset = IndexSubset.make(effectIndex, ["Effect", "Layer", "pipe", "NoSuchName"])!
    expect(path.dirname(subset.file)).toBe(path.dirname(effectIndex))
    expect(subset.file).toMatch(/zephyr-index-[0-9a-f]{12}\.d\.ts$/)
    expect(subset.text).toBe('export * as Effect from "./Effect.js"\nexport * as Layer from "./Layer.js"\nexport { pipe } from "./Function.js"\n')
    expect(IndexSubset.make(effectIndex, [])!.text).toBe("export {}\n")
  })

  it("declines an index that is not only named re-exports", () => {
    const dir = tempDir()
    const write = (name: string, text: string) => {
      fs.writeFileSync(path.join(dir, name), text)
      return path.join(dir, name)
    }
    expect(IndexSubset.make(write("a.d.ts", `export * from "./x.js"\n`), ["x"])).toBeUndefined()
    expect(IndexSubset.make(write("b.d.ts", `export * as X from "./x.js"\nexport declare const y: number\n`), ["X"])).toBeUndefined()
    expect(IndexSubset.make(write("c.d.ts", `/// <reference types="node" />\n`), ["X"])).toBeUndefined()
    expect(IndexSubset.make(write("e.d.ts", `/// <reference path="./globals.d.ts" />\nexport * as X from "./x.js"\n`), ["X"])).toBeUndefined()
    expect(IndexSubset.make(write("d.d.ts", `export type { A } from "./a.js"\nexport { type B, c as C } from "./b.js"\n`), ["A", "B", "C"])!.text)
      .toBe('export type { A } from "./a.js"\nexport { type B } from "./b.js"\nexport { c as C } from "./b.js"\n')
  })
})

describe("the checks' program with index subsets", () => {
  const effectFiles = (program: Project.ModuleProgram) =>
    program.program.getSourceFiles().filter((sf) => sf.fileName.includes(`${path.sep}node_modules${path.sep}effect${path.sep}`)).map((sf) => path.basename(sf.fileName))

  it("parses only the Effect modules a module names, with what they import, in fast mode", () => {
    const tokenize = path.resolve("examples/tokenize.ts")
    const fast = effectFiles(Project.make([tokenize], "fast"))
    const full = effectFiles(Project.make([tokenize], "full"))
    expect(fast).toEqual(expect.arrayContaining(["Context.d.ts", "Effect.d.ts", "Layer.d.ts"]))
    expect(full).toContain("index.d.ts")
    expect(fast).not.toContain("index.d.ts")
    expect(fast.length).toBeLessThan(full.length - 30)
    expect(Analyzer.analyze([tokenize]).findings).toEqual([])
  })

  it("a name Effect lacks gets the whole index's error (its suggestion too)", () => {
    // Inside the repository, where "effect" resolves.
    fs.mkdirSync("out", { recursive: true })
    const dir = fs.mkdtempSync(path.resolve("out", "index-subset-"))
    try {
      const file = path.join(dir, "typo.ts")
      fs.writeFileSync(file, `import { Efect } from "effect"\nexport const x = Efect\n`)
      const analysis = Analyzer.analyze([file])
      expect(analysis.mode).toBe("full")
      expect(analysis.findings!.map((d) => d.message)).toEqual([`TS2724: '"effect"' has no exported member named 'Efect'. Did you mean 'Effect'?`])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
