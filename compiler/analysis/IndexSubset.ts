import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { ts } from "ts-morph"

/**
 * A package's index of re-exports, narrowed to the names one file imports from it: in `fast`
 * mode (Project) `import { Context, Effect, Layer } from "effect"` resolves to a small index
 * of its own beside Effect's, `export * as Effect from "./Effect.js"` and so on, so that the
 * program parses the modules the file names, with what they import, instead of all 176 that
 * Effect's index re-exports (`zephyr check` of an edited examples/tokenize.ts: 1.26-1.42 s,
 * 1.36-1.60 s with the whole index). The names denote the same declarations, so the types
 * are the same. A file that takes the package whole (a namespace or default import,
 * `export *`, `import("effect")`) gets the real index, as does a package whose index is not
 * only re-exports.
 */

export interface Subset {
  /** A path beside the index (in memory only, never written). */
  readonly file: string
  readonly text: string
}

/** Mentions of the specifier as a string (quoted any way): every one must be a declaration read below. */
const mentions = (text: string, specifier: string): number => {
  const quoted = new RegExp(`(["'\`])${specifier.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\1`, "g")
  return text.match(quoted)?.length ?? 0
}

/**
 * The names `sf` imports or re-exports from `specifier`, each by name (`import { A, type B
 * as C }` gives A and B); undefined when it takes the module whole, or mentions it in any
 * other way (a comment counts: when unsure, the whole module).
 */
export const namedImports = (sf: ts.SourceFile, specifier: string): ReadonlyArray<string> | undefined => {
  const names = new Set<string>()
  let declarations = 0
  for (const statement of sf.statements) {
    if (!ts.isImportDeclaration(statement) && !ts.isExportDeclaration(statement)) continue
    const from = statement.moduleSpecifier
    if (from === undefined || !ts.isStringLiteral(from) || from.text !== specifier) continue
    declarations++
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause
      if (clause === undefined) continue
      if (clause.name !== undefined) return undefined
      const bindings = clause.namedBindings
      if (bindings === undefined) continue
      if (ts.isNamespaceImport(bindings)) return undefined
      for (const e of bindings.elements) names.add((e.propertyName ?? e.name).text)
    } else {
      const clause = statement.exportClause
      if (clause === undefined || ts.isNamespaceExport(clause)) return undefined
      for (const e of clause.elements) names.add((e.propertyName ?? e.name).text)
    }
  }
  return declarations > 0 && mentions(sf.text, specifier) === declarations ? [...names].sort() : undefined
}

/** Each name's re-export in `sf`, by name; undefined when the file is anything but named re-exports. */
const reExportLines = (sf: ts.SourceFile): ReadonlyMap<string, string> | undefined => {
  // A `/// <reference …>` brings in declarations of its own, which a subset would leave out.
  if (sf.referencedFiles.length + sf.typeReferenceDirectives.length + sf.libReferenceDirectives.length > 0) return undefined
  const found = new Map<string, string>()
  for (const statement of sf.statements) {
    if (!ts.isExportDeclaration(statement)) return undefined
    const from = statement.moduleSpecifier
    const clause = statement.exportClause
    if (from === undefined || !ts.isStringLiteral(from) || clause === undefined) return undefined
    const source = JSON.stringify(from.text)
    const type = statement.isTypeOnly ? "type " : ""
    if (ts.isNamespaceExport(clause)) found.set(clause.name.text, `export ${type}* as ${clause.name.text} from ${source}`)
    else for (const e of clause.elements) found.set(e.name.text, `export ${type}{ ${e.isTypeOnly ? "type " : ""}${e.propertyName ? `${e.propertyName.text} as ` : ""}${e.name.text} } from ${source}`)
  }
  return found.size > 0 ? found : undefined
}

/** The re-exports of each index read so far (an index is read once per process). */
const reExports = new Map<string, ReadonlyMap<string, string> | undefined>()

const reExportsOf = (index: string): ReadonlyMap<string, string> | undefined => {
  if (!reExports.has(index)) {
    let found: ReadonlyMap<string, string> | undefined
    try {
      found = reExportLines(ts.createSourceFile(index, fs.readFileSync(index, "utf8"), ts.ScriptTarget.Latest, false))
    } catch {
      found = undefined
    }
    reExports.set(index, found)
  }
  return reExports.get(index)
}

/**
 * The subset of `index` (a package's declaration index, `.d.ts`) for `names`, or undefined
 * when the index is not only named re-exports. A name the index lacks is left out: the
 * file then gets the error the whole index would give it.
 */
export const make = (index: string, names: ReadonlyArray<string>): Subset | undefined => {
  const extension = /\.d\.[cm]?ts$/.exec(index)?.[0]
  const all = extension === undefined ? undefined : reExportsOf(index)
  if (all === undefined) return undefined
  const lines = names.flatMap((n) => all.get(n) ?? [])
  const hash = createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 12)
  return { file: path.join(path.dirname(index), `zephyr-index-${hash}${extension}`), text: lines.length > 0 ? lines.join("\n") + "\n" : "export {}\n" }
}
