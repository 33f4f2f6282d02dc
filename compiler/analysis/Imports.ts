import * as fs from "node:fs"
import * as path from "node:path"
import { ts } from "ts-morph"
import * as PackageSpecifier from "../PackageSpecifier.ts"
import * as Finding from "./Finding.ts"
import * as Nodes from "./Nodes.ts"
import * as Project from "./Project.ts"
import type * as UserFunctions from "./UserFunctions.ts"

/**
 * What worker processes cannot import. Every worker imports the pipeline module from its own
 * checkout: a local file or package that does not resolve from the module fails every
 * worker (and the driver); an `import()` whose path is computed at run time is not compiled
 * with the module, and a relative path resolves against the compiled module's place in the
 * cache, not the source's. Type-only imports are erased and never load.
 */

interface Specifier {
  readonly node: ts.Node
  readonly text: string
  /** The names it binds, for saying which user functions use them. */
  readonly names: ReadonlyArray<string>
}

const isTypeOnly = (d: ts.ImportDeclaration): boolean => {
  const clause = d.importClause
  if (!clause) return false
  if (clause.isTypeOnly) return true
  const bindings = clause.namedBindings
  return clause.name === undefined && bindings !== undefined && ts.isNamedImports(bindings) && bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)
}

const boundNames = (d: ts.ImportDeclaration): Array<string> => {
  const clause = d.importClause
  if (!clause) return []
  const names = clause.name ? [clause.name.text] : []
  const bindings = clause.namedBindings
  if (bindings && ts.isNamespaceImport(bindings)) names.push(bindings.name.text)
  else if (bindings) names.push(...bindings.elements.filter((e) => !e.isTypeOnly).map((e) => e.name.text))
  return names
}

/** Whether a package is installed where Node looks for it from `file` (or is the package `file` is in). */
const packageInstalled = (file: string, name: string): boolean => {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, "node_modules", name, "package.json"))) return true
    try {
      // a package importing itself by name (through its "exports")
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string; exports?: unknown }
      if (manifest.name === name && manifest.exports !== undefined) return true
    } catch {
      // no package.json here
    }
    if (path.dirname(dir) === dir) return false
  }
}

const resolves = (program: Project.ModuleProgram, sf: ts.SourceFile, specifier: string): boolean => {
  if (Project.isBuiltin(specifier)) return true
  const file = sf.fileName
  const resolved = ts.resolveModuleName(specifier, file, program.options, ts.sys, undefined, undefined, sf.impliedNodeFormat).resolvedModule
  if (specifier.startsWith(".") || specifier.startsWith("/")) return resolved !== undefined
  // A bare name: a path alias of the tsconfig (compiled into the module), or a package.
  if (resolved && !resolved.isExternalLibraryImport && !resolved.resolvedFileName.includes(`${path.sep}node_modules${path.sep}`)) return true
  return packageInstalled(file, PackageSpecifier.packageName(specifier))
}

export const check = (program: Project.ModuleProgram, functions: ReadonlyArray<UserFunctions.UserFunction>): Array<Finding.Finding> => {
  const out: Array<Finding.Finding> = []
  const usedBy = (names: ReadonlyArray<string>): string => {
    const users = new Set<string>()
    for (const f of functions) {
      Nodes.walk(f.node, (node) => {
        if (ts.isIdentifier(node) && names.includes(node.text)) users.add(`\`${node.text}\`, used by ${f.label} at line ${Nodes.lineOf(f.call.name)}`)
      })
    }
    return users.size === 0 ? "" : ` (${[...users].slice(0, 2).join("; ")})`
  }
  for (const sf of program.localFiles) {
    const specifiers: Array<Specifier> = []
    Nodes.walk(sf, (node) => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier) && !isTypeOnly(node)) {
        specifiers.push({ node: node.moduleSpecifier, text: node.moduleSpecifier.text, names: boundNames(node) })
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier) && !node.isTypeOnly) {
        specifiers.push({ node: node.moduleSpecifier, text: node.moduleSpecifier.text, names: [] })
      } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require"))) {
        const arg = node.arguments[0]
        if (!arg) return
        const target = Nodes.unwrap(arg)
        if (ts.isStringLiteralLike(target)) specifiers.push({ node: target, text: target.text, names: [] })
        else if (node.expression.kind === ts.SyntaxKind.ImportKeyword) {
          out.push(Finding.at(node, {
            code: "computed-dynamic-import",
            severity: "error",
            message: `import(${Nodes.text(target, 40)}) takes a path computed at run time: it is not compiled with the module, and a relative path resolves against the compiled module in the cache, not this file, so workers cannot import it.`,
            hint: "Import it by a literal path (import(\"./plugin.ts\")), or statically, so it is compiled with the module; choose between literal imports at run time if needed."
          }))
        }
      }
    })
    for (const s of specifiers) {
      if (resolves(program, sf, s.text)) continue
      const relative = s.text.startsWith(".") || s.text.startsWith("/")
      out.push(Finding.at(s.node, {
        code: "unresolvable-import",
        severity: "error",
        message: `"${s.text}" cannot be resolved from ${path.basename(sf.fileName)}${usedBy(s.names)}: every worker process imports the module and fails here.`,
        hint: relative
          ? "Fix the path: it is relative to this file, and must name a file that exists (with its extension, e.g. ./helpers.ts)."
          : `Install the package (npm install ${PackageSpecifier.packageName(s.text)}) where the module's package.json is, so every machine's checkout has it.`
      }))
    }
  }
  return out
}
