import { ts } from "ts-morph"
import type * as DslCalls from "./DslCalls.ts"
import * as Nodes from "./Nodes.ts"

/**
 * The code of the functions passed to DSL calls: an inline arrow, a function declared in
 * the module or imported from a local file, a function a factory call returns (the
 * factory's code, which holds it), and the local functions each of those calls. Functions
 * from packages are not the user's code and are left out.
 */

export interface UserFunction {
  /** The function's own code. */
  readonly node: Nodes.FunctionNode
  readonly role: DslCalls.Role
  readonly label: string
  readonly call: DslCalls.DslCall
  /** The function passed to the call (`node` may be a local function it calls). */
  readonly passed: Nodes.FunctionNode
}

export type LocalFiles = ReadonlySet<ts.SourceFile>

/** The function nodes an expression stands for, in local files. */
export const resolve = (checker: ts.TypeChecker, local: LocalFiles, expression: ts.Expression | ts.Declaration, depth = 0): Array<Nodes.FunctionNode> => {
  if (depth > 8) return []
  if (Nodes.isFunction(expression)) return local.has(expression.getSourceFile()) ? [expression] : []
  if (!ts.isExpression(expression as ts.Node)) return []
  const e = Nodes.unwrap(expression as ts.Expression)
  if (Nodes.isFunction(e)) return local.has(e.getSourceFile()) ? [e] : []
  // A factory: its code holds the function it returns.
  if (ts.isCallExpression(e)) return resolve(checker, local, e.expression, depth + 1)
  if (ts.isConditionalExpression(e)) return [...resolve(checker, local, e.whenTrue, depth + 1), ...resolve(checker, local, e.whenFalse, depth + 1)]
  if (!ts.isIdentifier(e) && !ts.isPropertyAccessExpression(e)) return []
  const symbol = Nodes.resolvedSymbol(checker, ts.isPropertyAccessExpression(e) ? e.name : e)
  const out: Array<Nodes.FunctionNode> = []
  for (const declaration of symbol?.declarations ?? []) {
    if (!local.has(declaration.getSourceFile())) continue
    if (Nodes.isFunction(declaration)) out.push(declaration)
    else if ((ts.isVariableDeclaration(declaration) || ts.isPropertyAssignment(declaration) || ts.isPropertyDeclaration(declaration)) && declaration.initializer) {
      out.push(...resolve(checker, local, declaration.initializer, depth + 1))
    } else if (ts.isExportAssignment(declaration)) out.push(...resolve(checker, local, declaration.expression, depth + 1))
  }
  return out
}

/** The local functions `root` refers to (calls or passes on), and theirs, transitively, `root` first. */
export const withCallees = (checker: ts.TypeChecker, local: LocalFiles, root: Nodes.FunctionNode): Array<Nodes.FunctionNode> => {
  const found: Array<Nodes.FunctionNode> = [root]
  const seen = new Set<ts.Node>(found)
  for (let i = 0; i < found.length && found.length < 200; i++) {
    const fn = found[i]!
    Nodes.walk(fn, (node) => {
      if (!ts.isIdentifier(node) || node === (fn as { name?: ts.Node }).name) return
      const parent = node.parent
      // A name being declared or a property's name is not a reference.
      if ((ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isVariableDeclaration(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node)) return
      for (const callee of resolve(checker, local, node)) {
        if (seen.has(callee) || Nodes.within(callee, fn)) continue
        seen.add(callee)
        found.push(callee)
      }
    })
  }
  return found
}

/** Every user function of the calls: what each call was passed, then what that code calls. */
export const collect = (checker: ts.TypeChecker, local: LocalFiles, calls: ReadonlyArray<DslCalls.DslCall>): Array<UserFunction> => {
  const out: Array<UserFunction> = []
  for (const call of calls) {
    for (const argument of call.functions) {
      for (const passed of resolve(checker, local, argument.expression)) {
        for (const node of withCallees(checker, local, passed)) out.push({ node, role: argument.role, label: argument.label, call, passed })
      }
    }
  }
  return out
}
