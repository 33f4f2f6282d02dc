import { ts } from "ts-morph"
import type * as CodeFact from "./CodeFact.ts"
import type * as DslCalls from "./DslCalls.ts"
import * as Nodes from "./Nodes.ts"
import * as UserFunctions from "./UserFunctions.ts"

/**
 * Which fields of its item a function reads, and which a map passes through unchanged,
 * read from their TypeScript: explain's advice moves a filter before a map when the
 * predicate reads only fields the map copies. Both analyses give up (no fact) on anything
 * they cannot follow: a parameter passed on whole, a computed property name, a write to
 * the parameter, several returns.
 */

const propertyName = (name: ts.PropertyName): string | undefined =>
  ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) ? name.text : undefined

/** `r.p`, `r?.p` or `r["p"]` on the expression `e`: the name `p`. */
const accessedName = (access: ts.Node): string | undefined => {
  if (ts.isPropertyAccessExpression(access)) return access.name.text
  if (ts.isElementAccessExpression(access) && ts.isStringLiteralLike(access.argumentExpression)) return access.argumentExpression.text
  return undefined
}

/** The access `r.p` a reference `r` is the object of, through parentheses and casts. */
const accessOf = (reference: ts.Identifier): ts.Expression | undefined => {
  let n: ts.Node = reference
  while (ts.isParenthesizedExpression(n.parent) || ts.isAsExpression(n.parent) || ts.isNonNullExpression(n.parent) || ts.isSatisfiesExpression(n.parent)) n = n.parent
  const access = n.parent
  return (ts.isPropertyAccessExpression(access) || ts.isElementAccessExpression(access)) && access.expression === n ? access : undefined
}

/** An access that writes (`r.p = x`, `r.p++`, `delete r.p`) rather than reads. */
const isWrite = (access: ts.Expression): boolean => {
  let n: ts.Node = access
  while (ts.isParenthesizedExpression(n.parent)) n = n.parent
  const parent = n.parent
  if (ts.isBinaryExpression(parent) && parent.left === n && parent.operatorToken.kind >= ts.SyntaxKind.FirstAssignment && parent.operatorToken.kind <= ts.SyntaxKind.LastAssignment) return true
  if ((ts.isPrefixUnaryExpression(parent) || ts.isPostfixUnaryExpression(parent)) && (parent.operator === ts.SyntaxKind.PlusPlusToken || parent.operator === ts.SyntaxKind.MinusMinusToken)) return true
  return ts.isDeleteExpression(parent)
}

/**
 * The fields of its parameter a function reads: every use of a named parameter is a
 * property read (`r.kind`), or the parameter is destructured (`({ kind }) => ...`). Undefined
 * when it uses the parameter any other way (passes it on, spreads it, writes to it).
 */
export const fieldsRead = (checker: ts.TypeChecker, fn: Nodes.FunctionNode): Array<string> | undefined => {
  const param = fn.parameters[0]
  if (!param || param.dotDotDotToken || !fn.body) return param ? undefined : []
  if (ts.isObjectBindingPattern(param.name)) {
    const out: Array<string> = []
    for (const element of param.name.elements) {
      const name = element.dotDotDotToken ? undefined : propertyName(element.propertyName ?? (element.name as ts.Identifier))
      if (name === undefined || (!element.propertyName && !ts.isIdentifier(element.name))) return undefined
      out.push(name)
    }
    return [...new Set(out)].sort()
  }
  if (!ts.isIdentifier(param.name)) return undefined
  const symbol = checker.getSymbolAtLocation(param.name)
  if (!symbol) return undefined
  const out = new Set<string>()
  let other = false
  Nodes.walk(fn.body, (node) => {
    if (other || !ts.isIdentifier(node) || Nodes.resolvedSymbol(checker, node) !== symbol) return
    // `{ r }` passes the item on whole.
    if (ts.isShorthandPropertyAssignment(node.parent)) { other = true; return }
    const access = accessOf(node)
    const name = access && accessedName(access)
    if (access === undefined || name === undefined || isWrite(access)) other = true
    else out.add(name)
  })
  return other ? undefined : [...out].sort()
}

/** What a map's function copies from its input into the object literal it returns. */
export const mapCopies = (checker: ts.TypeChecker, fn: Nodes.FunctionNode): Omit<CodeFact.MapCopies, "kind" | "call"> | undefined => {
  const param = fn.parameters[0]
  if (!param || param.dotDotDotToken || !fn.body) return undefined
  let result: ts.Expression | undefined
  if (ts.isExpression(fn.body)) result = fn.body
  else {
    const returns: Array<ts.ReturnStatement> = []
    Nodes.walk(fn.body, (node) => {
      if (node !== fn.body && Nodes.isFunction(node)) return false
      if (ts.isReturnStatement(node)) returns.push(node)
      return true
    })
    if (returns.length !== 1) return undefined
    result = returns[0]!.expression
  }
  const object = result && Nodes.unwrap(result)
  if (!object || !ts.isObjectLiteralExpression(object)) return undefined

  const paramSymbol = ts.isIdentifier(param.name) ? checker.getSymbolAtLocation(param.name) : undefined
  /** The field of the input an expression is, unchanged: `r.p`, or `p` of a destructured `{ p }`. */
  const inputField = (e: ts.Expression | ts.Identifier, valueSymbol?: ts.Symbol): string | undefined => {
    const n = Nodes.unwrap(e)
    if (paramSymbol && (ts.isPropertyAccessExpression(n) || ts.isElementAccessExpression(n))) {
      const target = Nodes.unwrap(n.expression)
      return ts.isIdentifier(target) && checker.getSymbolAtLocation(target) === paramSymbol ? accessedName(n) : undefined
    }
    if (ts.isIdentifier(n) && ts.isObjectBindingPattern(param.name)) {
      const declaration = (valueSymbol ?? checker.getSymbolAtLocation(n))?.valueDeclaration
      if (declaration && ts.isBindingElement(declaration) && declaration.parent === param.name && !declaration.dotDotDotToken && ts.isIdentifier(declaration.name)) {
        return declaration.propertyName ? propertyName(declaration.propertyName) : declaration.name.text
      }
    }
    return undefined
  }

  const copied = new Set<string>()
  const computed = new Set<string>()
  let spread = false
  for (const property of object.properties) {
    if (ts.isSpreadAssignment(property)) {
      const spreadOf = Nodes.unwrap(property.expression)
      if (!paramSymbol || !ts.isIdentifier(spreadOf) || checker.getSymbolAtLocation(spreadOf) !== paramSymbol) return undefined
      // A field written before the spread may be the input's or not: only those written after it are known.
      for (const name of copied) computed.add(name)
      copied.clear()
      spread = true
      continue
    }
    const name = property.name ? propertyName(property.name) : undefined
    if (name === undefined) return undefined
    copied.delete(name)
    computed.delete(name)
    const field = ts.isPropertyAssignment(property)
      ? inputField(property.initializer)
      : ts.isShorthandPropertyAssignment(property) ? inputField(property.name, checker.getShorthandAssignmentValueSymbol(property)) : undefined
    if (field === name) copied.add(name)
    else computed.add(name)
  }
  // The input must reach the result unchanged: no writes to its fields on the way.
  if (paramSymbol) {
    let written = false
    Nodes.walk(fn.body, (node) => {
      if (ts.isIdentifier(node) && checker.getSymbolAtLocation(node) === paramSymbol) {
        const access = accessOf(node)
        if (access && isWrite(access)) written = true
      }
    })
    if (written) return undefined
  }
  return { copied: [...copied].sort(), spread, computed: [...computed].sort() }
}

/** The one local function an argument stands for. */
const onlyFunction = (checker: ts.TypeChecker, local: UserFunctions.LocalFiles, call: DslCalls.DslCall): Nodes.FunctionNode | undefined => {
  const argument = call.functions.find((f) => f.role === "element")
  const resolved = argument ? UserFunctions.resolve(checker, local, argument.expression) : []
  return resolved.length === 1 ? resolved[0] : undefined
}

/** The facts of every map and function filter call. */
export const facts = (checker: ts.TypeChecker, local: UserFunctions.LocalFiles, calls: ReadonlyArray<DslCalls.DslCall>): Array<CodeFact.MapCopies | CodeFact.PredicateReads> => {
  const out: Array<CodeFact.MapCopies | CodeFact.PredicateReads> = []
  for (const call of calls) {
    if (call.method !== "map" && call.method !== "filter") continue
    const fn = onlyFunction(checker, local, call)
    if (!fn) continue
    if (call.method === "map") {
      const copies = mapCopies(checker, fn)
      if (copies) out.push({ kind: "map-copies", call: Nodes.position(call.name), ...copies })
    } else {
      const fields = fieldsRead(checker, fn)
      if (fields) out.push({ kind: "predicate-reads", call: Nodes.position(call.name), fields })
    }
  }
  return out
}
