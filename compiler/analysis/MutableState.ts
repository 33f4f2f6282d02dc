import { ts } from "ts-morph"
import * as Finding from "./Finding.ts"
import * as Nodes from "./Nodes.ts"
import type * as UserFunctions from "./UserFunctions.ts"
import type * as Writes from "./Writes.ts"

/**
 * State shared between a user function and the rest of the module, which the engine's
 * processes do not share: every worker imports the module and has its own copy.
 * - `module-state-write`: a user function changes a variable (or a field of an object)
 *   declared outside it: each worker changes its own copy, the driver sees none of it.
 * - `captured-mutable`: a user function reads a `let`/`var` that is reassigned after the
 *   DSL call took the function (later in the builder, in a loop around the call, or in an
 *   exported function): the function sees the variable when it runs, not the value it
 *   had when the pipeline was built.
 */

const declarationOf = (symbol: ts.Symbol): ts.Declaration | undefined => symbol.valueDeclaration ?? symbol.declarations?.[0]

/** A function that code outside the module can call at any time: exported. */
const isExported = (fn: Nodes.FunctionNode | undefined): boolean => {
  if (!fn) return false
  const modifiers = (node: ts.Node) => (ts.canHaveModifiers(node) ? ts.getModifiers(node) ?? [] : [])
  if (ts.isFunctionDeclaration(fn)) return modifiers(fn).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
  const declaration = fn.parent
  if (ts.isVariableDeclaration(declaration) && ts.isVariableDeclarationList(declaration.parent) && ts.isVariableStatement(declaration.parent.parent)) {
    return modifiers(declaration.parent.parent).some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
  }
  return false
}

/**
 * A `for (let i ...; i++)` step: each pass has its own binding of `i`, which the step copies
 * before changing it, so a function created in one pass keeps that pass's value.
 */
const isLoopStep = (write: ts.Node, declaration: ts.Declaration): boolean => {
  const list = declaration.parent
  const loop = list?.parent
  return ts.isVariableDeclarationList(list) && loop !== undefined && ts.isForStatement(loop) && loop.initializer === list &&
    loop.incrementor !== undefined && Nodes.within(write, loop.incrementor)
}

/** A loop around `call`, inside its own function, that also holds `write`: the write comes before the next pass's call. */
const sharesLoop = (write: ts.Node, call: ts.Node): boolean => {
  const fn = Nodes.enclosingFunction(call)
  for (let n = call.parent; n && n !== fn; n = n.parent) if (Nodes.isLoop(n) && Nodes.within(write, n)) return true
  return false
}

export const check = (
  checker: ts.TypeChecker,
  local: ReadonlySet<ts.SourceFile>,
  functions: ReadonlyArray<UserFunctions.UserFunction>,
  writes: ReadonlyArray<Writes.Write>
): Array<Finding.Finding> => {
  const out: Array<Finding.Finding> = []
  const insideUserCode = (node: ts.Node) => functions.some((f) => Nodes.within(node, f.node))
  const writesOf = new Map<ts.Symbol, Array<Writes.Write>>()
  for (const w of writes) writesOf.set(w.symbol, [...(writesOf.get(w.symbol) ?? []), w])

  // module-state-write: a write inside user code to something declared outside that code
  const reportedWrites = new Set<ts.Node>()
  for (const w of writes) {
    const owners = functions.filter((f) => Nodes.within(w.node, f.node))
    if (owners.length === 0 || reportedWrites.has(w.node)) continue
    const declaration = declarationOf(w.symbol)
    if (!declaration || !local.has(declaration.getSourceFile()) || !Nodes.isVariable(declaration)) continue
    if (owners.some((f) => Nodes.within(declaration, f.node))) continue
    reportedWrites.add(w.node)
    const owner = owners[0]!
    const name = w.name.text
    const where = `${owner.label.charAt(0).toUpperCase()}${owner.label.slice(1)} at line ${Nodes.lineOf(owner.call.name)}`
    const declared = `declared at line ${Nodes.lineOf(declaration)}`
    out.push(Finding.at(w.node, {
      code: "module-state-write",
      severity: "warning",
      message: w.kind === "variable"
        ? `${where} assigns \`${name}\` (${declared}, outside the function): each worker process has its own copy of the module, so the change stays in that worker and the driver never sees it.`
        : `${where} writes into \`${name}\` (${declared}, outside the function): each worker process has its own copy of the object, so the change stays in that worker and the driver never sees it.`,
      hint: w.kind === "variable"
        ? `Count with Counters.increment("${name}") (summed over all workers and returned with the results), or carry the value in the items.`
        : "Carry per-item state in the items, and let the engine combine them (groupBy, deduplicate, reduce); count with Counters.increment(name).",
      call: owner.call.name
    }))
  }

  // captured-mutable: a read inside user code of a let/var that is reassigned after the call
  const reported = new Set<string>()
  for (const f of functions) {
    Nodes.walk(f.node, (node) => {
      if (!ts.isIdentifier(node)) return
      const symbol = checker.getSymbolAtLocation(node)
      const declaration = symbol && declarationOf(symbol)
      if (!symbol || !declaration || !local.has(declaration.getSourceFile()) || !Nodes.isReassignable(declaration)) return
      if (Nodes.within(declaration, f.node) || Nodes.within(declaration, f.passed)) return
      const call = f.call.call
      for (const w of writesOf.get(symbol) ?? []) {
        if (w.kind !== "variable" || insideUserCode(w.node) || isLoopStep(w.node, declaration)) continue
        const sameScope = Nodes.enclosingFunction(w.node) === Nodes.enclosingFunction(call) && w.node.getSourceFile() === call.getSourceFile()
        const later = (sameScope && w.node.getStart() > call.getEnd()) || sharesLoop(w.node, call) || isExported(Nodes.enclosingFunction(w.node))
        const key = `${w.node.pos}:${w.node.getSourceFile().fileName}:${call.pos}`
        if (!later || reported.has(key)) continue
        reported.add(key)
        out.push(Finding.at(w.node, {
          code: "captured-mutable",
          severity: "warning",
          message: `\`${node.text}\` is reassigned here after ${f.label} at line ${Nodes.lineOf(f.call.name)} captured it: the function reads the variable when it runs, on each worker, not the value it had when the pipeline was built.`,
          hint: `Capture a constant instead (\`const value = ${node.text}\` before the call, and use \`value\` in the function), or pass the value with --arg.`,
          call: f.call.name
        }))
      }
    })
  }
  return out
}
