import * as path from "node:path"
import { ts } from "ts-morph"
import * as Builder from "./Builder.ts"
import type * as Diagnostic from "./Diagnostic.ts"
import type * as DslCalls from "./DslCalls.ts"
import * as Finding from "./Finding.ts"
import * as Nodes from "./Nodes.ts"
import type * as UserFunctions from "./UserFunctions.ts"

/**
 * Values that differ from one evaluation to the next (`Math.random()`, `Date.now()`,
 * `new Date()`, `crypto.randomUUID()`, `performance.now()`) and `process.env` reads, where
 * they make a pipeline give other results on another worker or attempt:
 * - in the builder: every worker rebuilds the pipeline, and its plan must be the driver's;
 * - in key, sortBy and output-path functions: they decide where an item goes;
 * - in reducers, combiners and folds: a retried shard would compute other output.
 * Functions that only transform items (map, filter...) may use them.
 */

/** Globals (or their imports) whose calls give a new value each time, by object and member. */
const volatileMembers: Readonly<Record<string, ReadonlySet<string>>> = {
  Math: new Set(["random"]),
  Date: new Set(["now"]),
  performance: new Set(["now"]),
  crypto: new Set(["randomUUID", "getRandomValues", "randomBytes", "randomInt", "randomFillSync", "webcrypto"]),
  process: new Set(["hrtime", "uptime", "cpuUsage", "memoryUsage"])
}
/** Functions imported from these modules that give a new value each time. */
const volatileImports: Readonly<Record<string, ReadonlySet<string>>> = {
  crypto: volatileMembers.crypto!,
  perf_hooks: new Set(["performance"])
}

/** The module an imported name comes from (`crypto` for `node:crypto`), if it is an import. */
const importedFrom = (checker: ts.TypeChecker, name: ts.Identifier): { readonly module: string; readonly imported: string } | undefined => {
  const symbol = checker.getSymbolAtLocation(name)
  const declaration = symbol?.declarations?.[0]
  if (!declaration) return undefined
  let specifier: ts.Expression | undefined
  let imported = name.text
  if (ts.isImportSpecifier(declaration)) {
    specifier = declaration.parent.parent.parent.moduleSpecifier
    imported = (declaration.propertyName ?? declaration.name).text
  } else if (ts.isNamespaceImport(declaration) || ts.isImportClause(declaration)) {
    specifier = (ts.isNamespaceImport(declaration) ? declaration.parent.parent : declaration.parent).moduleSpecifier
  }
  if (!specifier || !ts.isStringLiteral(specifier)) return undefined
  return { module: specifier.text.replace(/^node:/, ""), imported }
}

/** Whether a name is the global of that name (not a local variable that shadows it). */
const isGlobal = (checker: ts.TypeChecker, name: ts.Identifier, program: ts.Program): boolean => {
  const symbol = checker.getSymbolAtLocation(name)
  if (!symbol?.declarations?.length) return true
  return symbol.declarations.every((d) => {
    const sf = d.getSourceFile()
    return sf.isDeclarationFile && (program.isSourceFileDefaultLibrary(sf) || program.isSourceFileFromExternalLibrary(sf) || sf.fileName.includes(`${path.sep}@types${path.sep}`))
  })
}

/** The object a member call reads (`Math` in `Math.random()`), as the global or import it is. */
const objectName = (checker: ts.TypeChecker, program: ts.Program, e: ts.Expression): string | undefined => {
  const o = Nodes.unwrap(e)
  if (!ts.isIdentifier(o)) return undefined
  const from = importedFrom(checker, o)
  // `import { performance } from "perf_hooks"` is performance; `import * as c from "node:crypto"` is crypto.
  if (from) return from.imported in volatileMembers ? from.imported : from.module
  return isGlobal(checker, o, program) ? o.text : undefined
}

export type Volatile = { readonly kind: "volatile" | "env"; readonly node: ts.Node; readonly what: string }

/** What a node computes that differs between evaluations, if anything. */
export const inspect = (checker: ts.TypeChecker, program: ts.Program, node: ts.Node): Volatile | undefined => {
  if (ts.isCallExpression(node)) {
    const callee = Nodes.unwrap(node.expression)
    if (ts.isPropertyAccessExpression(callee)) {
      // process.hrtime.bigint()
      const inner = Nodes.unwrap(callee.expression)
      if (ts.isPropertyAccessExpression(inner) && objectName(checker, program, inner.expression) === "process" && inner.name.text === "hrtime") {
        return { kind: "volatile", node, what: "process.hrtime.bigint()" }
      }
      const object = objectName(checker, program, callee.expression)
      if (object !== undefined && volatileMembers[object]?.has(callee.name.text)) return { kind: "volatile", node, what: `${Nodes.text(callee)}()` }
    } else if (ts.isIdentifier(callee)) {
      const from = importedFrom(checker, callee)
      if (from && volatileImports[from.module]?.has(from.imported)) return { kind: "volatile", node, what: `${callee.text}()` }
      // Date() without new is the current time as a string.
      if (callee.text === "Date" && isGlobal(checker, callee, program)) return { kind: "volatile", node, what: "Date()" }
    }
  }
  if (ts.isNewExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === "Date" && (node.arguments?.length ?? 0) === 0 && isGlobal(checker, node.expression, program)) {
    return { kind: "volatile", node, what: "new Date()" }
  }
  // process.env.X, process.env["X"], or process.env itself (destructured, spread)
  if (ts.isPropertyAccessExpression(node) && node.name.text === "env" && objectName(checker, program, node.expression) === "process") {
    const parent = node.parent
    const read = (ts.isPropertyAccessExpression(parent) || ts.isElementAccessExpression(parent)) && parent.expression === node ? parent : node
    const assigned = ts.isBinaryExpression(read.parent) && read.parent.left === read && read.parent.operatorToken.kind === ts.SyntaxKind.EqualsToken
    if (!assigned) return { kind: "env", node: read, what: Nodes.text(read) }
  }
  return undefined
}

const roleCode: Partial<Record<DslCalls.Role, "nondeterministic-key" | "nondeterministic-reducer">> = {
  key: "nondeterministic-key",
  sortBy: "nondeterministic-key",
  path: "nondeterministic-key",
  reducer: "nondeterministic-reducer",
  combiner: "nondeterministic-reducer",
  fold: "nondeterministic-reducer"
}

const consequence: Readonly<Record<DslCalls.Role, string>> = {
  key: "the same item can get another key on another worker or on a retry, and land in another group or shard",
  sortBy: "the order within a group can differ on a retry",
  path: "a retried shard writes to another file",
  reducer: "a retried shard computes other output, so the results depend on which attempt finished",
  combiner: "a retried shard computes other partial results",
  fold: "a retried shard cuts other windows",
  element: ""
}

const remedy: Readonly<Record<DslCalls.Role, string>> = {
  key: "Compute the key from the item alone (to sample, hash a field of the item instead of drawing a random number).",
  sortBy: "Sort by fields of the item alone.",
  path: "Name the file from the shard index and total alone; pass run-wide values (a run id) with --arg.",
  reducer: "Compute the output from the key and the items alone; pass run-wide values (a timestamp, a seed) with --arg.",
  combiner: "Combine from the key and the items alone.",
  fold: "Decide from the state and the item alone.",
  element: ""
}

export const check = (
  checker: ts.TypeChecker,
  program: ts.Program,
  functions: ReadonlyArray<UserFunctions.UserFunction>,
  builder: Builder.BuilderCode
): Array<Finding.Finding> => {
  const out: Array<Finding.Finding> = []
  const reported = new Set<ts.Node>()
  /** Reports what `node` does once: an environment read, or else the other finding. */
  const report = (
    node: ts.Node,
    env: (what: string) => { readonly message: string; readonly hint: string },
    other: (what: string) => { readonly code: Diagnostic.Code; readonly severity: Diagnostic.Severity; readonly message: string; readonly hint: string },
    call?: ts.Node
  ) => {
    const found = inspect(checker, program, node)
    if (!found || reported.has(found.node)) return
    reported.add(found.node)
    const d = found.kind === "env" ? { code: "env-read" as const, severity: "warning" as const, ...env(found.what) } : other(found.what)
    out.push(Finding.at(found.node, { ...d, ...(call !== undefined ? { call } : {}) }))
  }
  for (const fn of functions) {
    const code = roleCode[fn.role]
    if (code === undefined) continue
    const where = `${fn.label} at line ${Nodes.lineOf(fn.call.name)}`
    Nodes.walk(fn.node, (node) => report(node, (what) => ({
      message: `${what} is read in ${where}: worker processes on other machines may have another environment, and decide otherwise.`,
      hint: "Read the value while building the pipeline from its args (`--arg k=v` reaches every worker as given) and capture that."
    }), (what) => ({
      code,
      severity: code === "nondeterministic-key" ? "error" : "warning",
      message: `${what} in ${where} gives another value each time: ${consequence[fn.role]}.`,
      hint: remedy[fn.role]
    }), fn.call.name))
  }
  Builder.visit(builder, (node) => report(node, (what) => ({
    message: `${what} is read while the pipeline is built: worker processes rebuild it, and on another machine they may see another environment and build another plan.`,
    hint: "Pass the value with --arg k=v and read it from the builder's args; args reach every worker as given."
  }), (what) => ({
    code: "nondeterministic-builder",
    severity: "error",
    message: `${what} while the pipeline is built gives another value in every process: each worker rebuilds the pipeline, and a plan that differs from the driver's fails the run (fingerprint mismatch).`,
    hint: "Pass the value with --arg k=v (args are the same on every worker), or compute it inside a user function."
  })))
  return out
}
