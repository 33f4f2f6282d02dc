import * as fs from "node:fs"
import * as path from "node:path"
import { ts } from "ts-morph"
import { describe, expect, it } from "vitest"
import * as Analyzer from "../../../compiler/analysis/Analyzer.ts"
import * as Project from "../../../compiler/analysis/Project.ts"
import { useTempDirs } from "../../TempDirs.ts"

const cases = "test/compiler/analysis/cases"
const analyze = (file: string) => {
  const analysis = Analyzer.analyze([path.resolve(file)])
  return { ...analysis, findings: analysis.findings! }
}
const tempDir = useTempDirs("zephyr-analyzer-")
const packageFiles = (program: Project.ModuleProgram, name: string) =>
  program.program.getSourceFiles().filter((sf) => sf.fileName.includes(`${path.sep}node_modules${path.sep}${name}${path.sep}`))

describe("the analyzer", () => {
  it("leaves safe patterns alone: constants, lets settled before the call, per-pass loop bindings, per-worker memos and set-up, randomness in a filter, Dates and Sets across boundaries", () => {
    expect(analyze(path.join(cases, "clean.ts")).findings).toEqual([])
  })

  it("names the value that changes at each boundary, and none of the ones msgpack carries", () => {
    const found = analyze(path.join(cases, "boundary-kinds.ts")).findings
    expect(found.map((d) => [d.code, d.line])).toEqual([11, 12, 13, 14].map((line) => ["lossy-boundary-type", line]))
    expect(found.map((d) => d.message.slice(d.message.indexOf(", and ") + 6))).toEqual([
      "`at` is an instance of class Point, which arrives as a plain object, without its prototype (methods, getters, instanceof).",
      "each item is a Map<number, number>, which arrives as a plain object.",
      "`f` is a function, which arrives as undefined.",
      "`s` is a symbol, which msgpack cannot encode (the task fails)."
    ])
  })

  it("checks a module that imports no Effect package without parsing Effect's declarations", () => {
    const program = Project.make([path.resolve("examples/wordcount.ts")], "fast")
    expect(packageFiles(program, "effect")).toEqual([])
    expect(program.localFiles.map((sf) => path.relative(process.cwd(), sf.fileName))).toEqual(["examples/wordcount.ts"])
    expect(program.options.types).toEqual([])
    expect(analyze("examples/wordcount.ts").mode).toBe("fast")
  })

  it("checks again with the real Effect types when a type error may come from a stand-in, and reports what they say", () => {
    const fast = Project.make([path.resolve(cases, "fallback.ts")], "fast")
    const standInErrors = fast.localFiles.flatMap((sf) => fast.program.getSemanticDiagnostics(sf))
    expect(standInErrors.length).toBeGreaterThan(0) // what the stand-ins alone would say
    const result = analyze(path.join(cases, "fallback.ts"))
    expect(result.mode).toBe("full")
    expect(result.findings).toEqual([])
  })

  it("uses the real Effect types for a module that imports Effect, and @types/node only for one that uses Node", () => {
    const program = Project.make([path.resolve(cases, "effect-user.ts")], "fast")
    expect(packageFiles(program, "effect").length).toBeGreaterThan(50)
    expect(program.options.types).toEqual([])
    expect(Project.make([path.resolve("test/cli/fixtures/refused.bad.ts")], "fast").options.types).toEqual(["node"])
    expect(analyze(path.join(cases, "effect-user.ts")).findings).toEqual([])
  })

  it("reads each package.json once, however many of the package's declaration files it parses", () => {
    const reads = new Map<string, number>()
    const readFile = ts.sys.readFile
    ts.sys.readFile = (file, encoding) => {
      if (file.endsWith("package.json")) reads.set(file, (reads.get(file) ?? 0) + 1)
      return readFile(file, encoding)
    }
    let program: Project.ModuleProgram
    try {
      program = Project.make([path.resolve(cases, "effect-user.ts")], "fast")
    } finally {
      ts.sys.readFile = readFile
    }
    expect(packageFiles(program, "effect").length).toBeGreaterThan(50)
    // Without the program's resolution cache, Effect's was read again for each of its files' module format.
    const effect = [...reads].find(([file]) => file.endsWith(`${path.sep}node_modules${path.sep}effect${path.sep}package.json`))
    expect(effect?.[1]).toBe(1)
  })

  it("leaves the DOM library out when the module's options name no lib, and checks a module that needs it again with it", () => {
    // A directory with no tsconfig.json above it: the target's default library, which has the DOM.
    const dir = tempDir()
    const write = (name: string, code: string) => {
      fs.writeFileSync(path.join(dir, name), code)
      return path.join(dir, name)
    }
    const plain = write("plain.ts", "export const twice = (x: number): number => x * 2\n")
    const libs = (program: Project.ModuleProgram) =>
      program.program.getSourceFiles().filter((sf) => program.program.isSourceFileDefaultLibrary(sf)).map((sf) => path.posix.basename(sf.fileName))
    const fast = Project.make([plain], "fast")
    expect(fast.tsconfig).toBeUndefined()
    expect(libs(fast)).toContain("lib.es2022.d.ts")
    expect(libs(fast)).not.toContain("lib.dom.d.ts")
    expect(libs(Project.make([plain], "full"))).toContain("lib.dom.d.ts")
    // The repository's tsconfig.json names its lib (ES2023): as it says.
    expect(libs(Project.make([path.resolve(cases, "clean.ts")], "fast"))).toContain("lib.es2023.d.ts")
    expect(analyze(plain).mode).toBe("fast")

    const dom = analyze(write("dom.ts", "export const title = (): string => document.title\nexport const here = (): unknown => globalThis.location\n"))
    expect(dom.findings).toEqual([])
    expect(dom.mode).toBe("full")
    const unknown = analyze(write("unknown.ts", "export const f = (): number => notDeclaredAnywhere\n"))
    expect(unknown.findings.map((d) => [d.code, d.message])).toEqual([["type-error", "TS2304: Cannot find name 'notDeclaredAnywhere'."]])
  })

  it("parses a package's declarations without their JSDoc, and the compiler's lib files from ts-morph's copies", () => {
    const program = Project.make([path.resolve(cases, "effect-user.ts")], "fast")
    const effect = packageFiles(program, "effect").find((sf) => sf.fileName.endsWith(`${path.sep}Effect.d.ts`))!
    // Effect.d.ts documents nearly every export with a JSDoc comment (its examples).
    expect(effect.text.split("/**").length).toBeGreaterThan(100)
    expect(effect.statements.filter((s) => ts.getJSDocCommentsAndTags(s).length > 0).length).toBe(0)
    const libs = program.program.getSourceFiles().filter((sf) => program.program.isSourceFileDefaultLibrary(sf))
    expect(libs.length).toBeGreaterThan(0)
    for (const lib of libs) expect(path.posix.dirname(lib.fileName)).toBe("/node_modules/typescript/lib")
  })

  it("lists the files the result depends on, with the text it read", () => {
    const result = analyze("test/compiler/analysis/fixtures/captured-mutable.ts")
    expect(result.files.map((f) => path.relative(process.cwd(), f.path))).toEqual(["test/compiler/analysis/fixtures/captured-mutable.ts", "tsconfig.json"])
  })
})
