import { ts } from "ts-morph"
import type * as Diagnostic from "./Diagnostic.ts"
import * as Project from "./Project.ts"

/**
 * What TypeScript itself reports for the module and its local files, as `tsc --noEmit`
 * would with the module's tsconfig.json: syntax errors, then type errors. Unused names
 * (`noUnusedLocals` and the like) are warnings: they never change what runs.
 */

/**
 * "Could not find a declaration file for module": a plain JavaScript file or an untyped
 * package. It resolves and runs as it is; only its types are unknown, so it warns.
 */
const untypedModule = 7016

/** "Cannot find module": reported as `unresolvable-import`, with what workers make of it. */
const unresolvedModule = new Set([2307, 2792])

const message = (d: ts.Diagnostic): string => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, " ").replace(/\s+/g, " ").trim()}`

const toDiagnostic = (d: ts.Diagnostic, code: "type-error" | "syntax-error"): Diagnostic.Diagnostic | undefined => {
  if (!d.file || d.start === undefined) return undefined
  if (d.category !== ts.DiagnosticCategory.Error && d.category !== ts.DiagnosticCategory.Warning) return undefined
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start)
  const unused = d.reportsUnnecessary === true
  const untyped = d.code === untypedModule
  return {
    code,
    severity: d.category === ts.DiagnosticCategory.Error && !unused && !untyped ? "error" : "warning",
    message: message(d),
    file: d.file.fileName,
    line: line + 1,
    column: character + 1,
    hint: code === "syntax-error"
      ? "Fix the syntax: the module cannot be compiled as it is."
      : unused
        ? "Remove it, or prefix its name with _ if it must stay."
        : untyped
          ? "It runs as it is; to have it checked, add declarations for it (a .d.ts next to it, or the package's @types)."
        : "Fix the types (`npx tsc --noEmit` reports the same); `--no-check` runs the module regardless."
  }
}

export const syntaxErrors = (program: Project.ModuleProgram): Array<Diagnostic.Diagnostic> =>
  program.localFiles.flatMap((sf) => program.program.getSyntacticDiagnostics(sf).flatMap((d) => toDiagnostic(d, "syntax-error") ?? []))

export const typeErrors = (program: Project.ModuleProgram): Array<Diagnostic.Diagnostic> =>
  program.localFiles.flatMap((sf) =>
    program.program.getSemanticDiagnostics(sf).filter((d) => !unresolvedModule.has(d.code)).flatMap((d) => toDiagnostic(d, "type-error") ?? [])
  )
