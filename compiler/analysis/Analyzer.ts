import * as fs from "node:fs"
import { ts } from "ts-morph"
import * as Accumulation from "./Accumulation.ts"
import * as BoundaryTypes from "./BoundaryTypes.ts"
import * as Builder from "./Builder.ts"
import type * as CodeFact from "./CodeFact.ts"
import * as DslCalls from "./DslCalls.ts"
import * as FieldFlow from "./FieldFlow.ts"
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
 * The same program gives the code facts (CodeFact) of explain's advice and of the columns a
 * run reads, when asked for.
 */

/** What to find: the checks' findings, the code facts, or both. */
export interface Wanted {
  readonly checks: boolean
  readonly facts: boolean
}

export interface Analysis {
  /** Files are absolute paths; undefined when the checks were not asked for. */
  readonly findings: ReadonlyArray<Finding.Finding> | undefined
  /** Undefined when the facts were not asked for. */
  readonly facts: ReadonlyArray<CodeFact.CodeFact> | undefined
  /** The files the result depends on (the module's local files, its tsconfig.json), with the text read. */
  readonly files: ReadonlyArray<{ readonly path: string; readonly text: string }>
  readonly mode: Project.Mode
  readonly compiler: string
}

/** A program's syntax errors and, when its files parse, its DSL calls (a file that does not parse has no calls or types worth reading). */
interface Parsed {
  readonly syntax: ReadonlyArray<Finding.Finding>
  readonly calls: ReadonlyArray<DslCalls.DslCall> | undefined
}

const parse = (program: Project.ModuleProgram): Parsed => {
  const syntax = TypeErrors.syntaxErrors(program)
  return { syntax, calls: syntax.some(isError) ? undefined : DslCalls.find(program) }
}

const run = (program: Project.ModuleProgram, { syntax, calls }: Parsed): Array<Finding.Finding> => {
  if (calls === undefined) return [...syntax]
  const local = new Set(program.localFiles)
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

/** The code facts of the calls' functions (for explain's advice, and the columns a run reads). */
const facts = (program: Project.ModuleProgram, { calls }: Parsed): Array<CodeFact.CodeFact> => {
  if (calls === undefined) return []
  const local = new Set(program.localFiles)
  return [...Accumulation.facts(program.checker, local, calls), ...FieldFlow.facts(program.checker, local, calls)]
}

/** Checks the modules `entries` (absolute paths), or finds their code facts, or both. */
export const analyze = (entries: ReadonlyArray<string>, wanted: Wanted = { checks: true, facts: false }): Analysis => {
  let program = Project.make(entries, "fast")
  const parsed = parse(program)
  // The stand-ins do not change what the facts read (which calls, which functions, which fields).
  const found = wanted.facts ? facts(program, parsed) : undefined
  let findings = wanted.checks ? run(program, parsed) : undefined
  // A type error that names a type a stand-in replaced, a name the DOM library may hold, or a
  // name a package index's subset may lack, may be theirs: ask again with everything real.
  if (findings && program.standIns() && findings.some((d) => d.code === "type-error" && isError(d) && (Project.mayComeFromStandIns(d.message) || Project.mayComeFromLibs(d.message) || Project.mayComeFromSubsets(d.message)))) {
    program = Project.make(entries, "full")
    findings = run(program, parse(program))
  }
  const files = program.localFiles.map((sf) => ({ path: sf.fileName, text: sf.text }))
  if (program.tsconfig !== undefined) files.push({ path: program.tsconfig, text: fs.readFileSync(program.tsconfig, "utf8") })
  return { findings: findings && dedupe(findings), facts: found, files, mode: program.mode, compiler: ts.version }
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
