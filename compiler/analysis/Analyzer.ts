import * as fs from "node:fs"
import { ts } from "ts-morph"
import * as BoundaryTypes from "./BoundaryTypes.ts"
import * as Builder from "./Builder.ts"
import * as DslCalls from "./DslCalls.ts"
import type * as Finding from "./Finding.ts"
import * as Imports from "./Imports.ts"
import * as MutableState from "./MutableState.ts"
import * as Nondeterminism from "./Nondeterminism.ts"
import * as Project from "./Project.ts"
import * as TypeErrors from "./TypeErrors.ts"
import * as UserFunctions from "./UserFunctions.ts"
import * as Writes from "./Writes.ts"

/**
 * The static checks of a pipeline module, on one TypeScript program (see Project): the
 * module's DSL calls and the functions passed to them, then each check over them. This is
 * the only part of the engine that loads the TypeScript compiler (through ts-morph, so one
 * compiler is in play); Check.ts imports it only when the diagnostics are not cached.
 */

export interface Analysis {
  /** Files are absolute paths. */
  readonly findings: ReadonlyArray<Finding.Finding>
  /** The files the result depends on (the module's local files, its tsconfig.json), with the text read. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly text: string }>
  readonly mode: Project.Mode
  readonly compiler: string
}

const run = (program: Project.ModuleProgram): Array<Finding.Finding> => {
  const syntax = TypeErrors.syntaxErrors(program)
  // A file that does not parse has no calls or types worth reading.
  if (syntax.some(isError)) return syntax
  const local = new Set(program.localFiles)
  const calls = DslCalls.find(program)
  const functions = UserFunctions.collect(program.checker, local, calls)
  const builder = Builder.collect(program.checker, program.localFiles, calls, new Set(functions.map((f) => f.node)))
  const writes = Writes.collect(program.checker, program.localFiles)
  return [
    ...syntax,
    ...Imports.check(program, functions),
    ...TypeErrors.typeErrors(program),
    ...MutableState.check(program.checker, local, functions, writes),
    ...Nondeterminism.check(program.checker, program.program, functions, builder),
    ...BoundaryTypes.check(program.checker, calls)
  ]
}

/** Checks the modules `entries` (absolute paths). */
export const analyze = (entries: ReadonlyArray<string>): Analysis => {
  let program = Project.make(entries, "fast")
  let findings = run(program)
  // A type error that names a type a stand-in replaced may be the stand-in's: ask again with every package real.
  if (program.standIns() && findings.some((d) => d.code === "type-error" && isError(d) && Project.mayComeFromStandIns(d.message))) {
    program = Project.make(entries, "full")
    findings = run(program)
  }
  const files = program.localFiles.map((sf) => ({ path: sf.fileName, text: sf.text }))
  if (program.tsconfig !== undefined) files.push({ path: program.tsconfig, text: fs.readFileSync(program.tsconfig, "utf8") })
  return { findings: dedupe(findings), files, mode: program.mode, compiler: ts.version }
}

// (Not Diagnostic.isError: this thread never loads Diagnostic's Schema, and with it Effect.)
const isError = (d: Finding.Finding): boolean => d.severity === "error"

const dedupe = (ds: ReadonlyArray<Finding.Finding>): Array<Finding.Finding> => {
  const seen = new Set<string>()
  return ds.filter((d) => {
    const k = `${d.file}:${d.line}:${d.column}|${d.code}|${d.message}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}
