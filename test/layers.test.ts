import * as fs from "node:fs"
import * as path from "node:path"
import { ts } from "ts-morph"
import { globSync } from "tinyglobby"
import { describe, expect, it } from "vitest"

/**
 * The layering ARCHITECTURE.md describes, checked on the import graph of the engine's
 * sources (every import, export-from and dynamic import, type-only ones included):
 * - plan/ is the contract: Schema data and its codec, importing only plan/ and Effect
 *   (and node:crypto, for the digest);
 * - executable/ pairs a plan with its functions: it imports only plan/, executable/ and Effect;
 * - runtime/ and rpc/ never import dsl/: they know the plan, not how it was written.
 */

interface Edge { readonly from: string; readonly to: string }

const inside = (file: string, folder: string) => file.startsWith(`${folder}/`)

const violations = (edges: ReadonlyArray<Edge>): Array<string> => {
  const out: Array<string> = []
  for (const { from, to } of edges) {
    const bad =
      (inside(from, "plan") && !inside(to, "plan") && to !== "effect" && to !== "node:crypto") ||
      (inside(from, "executable") && !inside(to, "plan") && !inside(to, "executable") && to !== "effect") ||
      ((inside(from, "runtime") || inside(from, "rpc")) && inside(to, "dsl"))
    if (bad) out.push(`${from} imports ${to}`)
  }
  return out
}

/** The module specifiers of a file: imports, exports-from, dynamic `import()` and `import("...")` types. */
const specifiers = (file: string): Array<string> => {
  const sf = ts.createSourceFile(file, fs.readFileSync(file, "utf8"), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const out: Array<string> = []
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      out.push(node.moduleSpecifier.text)
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteralLike(node.arguments[0])) {
      out.push(node.arguments[0].text)
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      out.push(node.argument.literal.text)
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return out
}

/** Every import of the engine's sources: a relative one as the repository path it names, a package by its name. */
const importGraph = (): Array<Edge> => {
  const files = globSync(["**/*.ts"], { ignore: ["node_modules/**", "dist/**", "test/**", "bench/**", "examples/**"] })
  const edges: Array<Edge> = []
  for (const from of files) {
    for (const specifier of specifiers(from)) {
      const to = specifier.startsWith(".") ? path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier)) : specifier
      edges.push({ from, to })
    }
  }
  return edges
}

describe("layers", () => {
  const edges = importGraph()

  it("reads the import graph (imports, exports-from, dynamic imports)", () => {
    expect(edges).toContainEqual({ from: "plan/Plan.ts", to: "plan/Op.ts" })
    expect(edges).toContainEqual({ from: "plan/index.ts", to: "plan/Op.ts" })
    expect(edges).toContainEqual({ from: "compiler/analysis/Thread.ts", to: "compiler/analysis/Analyzer.ts" })
    expect(edges.some((e) => inside(e.from, "runtime") && inside(e.to, "plan"))).toBe(true)
    expect(edges.some((e) => inside(e.from, "executable"))).toBe(true)
  })

  it("plan/ imports only plan/ and effect, executable/ only plan/, executable/ and effect, runtime/ and rpc/ no dsl/", () => {
    expect(violations(edges)).toEqual([])
  })

  it("names each kind of violation", () => {
    expect(violations([
      { from: "plan/Op.ts", to: "runtime/task/TaskContext.ts" },
      { from: "plan/Op.ts", to: "ts-morph" },
      { from: "executable/Implementation.ts", to: "compiler/Compiler.ts" },
      { from: "runtime/task/Operators.ts", to: "dsl/Dataset.ts" },
      { from: "rpc/Protocol.ts", to: "dsl/Step.ts" },
      { from: "compiler/Compiler.ts", to: "dsl/Dataset.ts" }
    ])).toEqual([
      "plan/Op.ts imports runtime/task/TaskContext.ts",
      "plan/Op.ts imports ts-morph",
      "executable/Implementation.ts imports compiler/Compiler.ts",
      "runtime/task/Operators.ts imports dsl/Dataset.ts",
      "rpc/Protocol.ts imports dsl/Step.ts"
    ])
  })
})
