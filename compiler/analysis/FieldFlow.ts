import { ts } from "ts-morph"
import type * as CodeFact from "./CodeFact.ts"
import type * as DslCalls from "./DslCalls.ts"
import * as Nodes from "./Nodes.ts"
import * as UserFunctions from "./UserFunctions.ts"

/**
 * Which fields of its item a function reads, and which a map passes through unchanged,
 * read from their TypeScript. Explain's advice moves a filter before a map when the
 * predicate reads only fields the map copies; the reader of a run's first stage reads only
 * the fields its functions read (ReadColumns), so a wrong "reads only" would lose data:
 * both analyses give up (no fact) on anything they cannot follow (a parameter passed to
 * a function that is not the user's, or to one that may change, a computed property name,
 * a method called on the item, a write to it, several returns).
 */

const propertyName = (name: ts.PropertyName): string | undefined =>
  ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) ? name.text : undefined

/** The fields a destructuring pattern takes (`{ a, b: c }`), or undefined with a rest or a computed name. */
const bindingFields = (pattern: ts.ObjectBindingPattern): Array<string> | undefined => {
  const out: Array<string> = []
  for (const element of pattern.elements) {
    const name = element.dotDotDotToken ? undefined : propertyName(element.propertyName ?? (element.name as ts.Identifier))
    if (name === undefined || (!element.propertyName && !ts.isIdentifier(element.name))) return undefined
    out.push(name)
  }
  return out
}

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

/** An expression with the parentheses and casts around it: what its parent sees. */
const outermost = (e: ts.Node): ts.Node => {
  let n = e
  while (ts.isParenthesizedExpression(n.parent) || ts.isAsExpression(n.parent) || ts.isNonNullExpression(n.parent) || ts.isSatisfiesExpression(n.parent) || ts.isTypeAssertionExpression(n.parent)) n = n.parent
  return n
}

/** `r.m()` (or `new r.C()`, a tagged template): the call gets the item as `this`. */
const isCallee = (access: ts.Expression): boolean => {
  const n = outermost(access)
  const parent = n.parent
  return ((ts.isCallExpression(parent) || ts.isNewExpression(parent)) && parent.expression === n) || (ts.isTaggedTemplateExpression(parent) && parent.tag === n)
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
export const fieldsRead = (checker: ts.TypeChecker, local: UserFunctions.LocalFiles, fn: Nodes.FunctionNode): Array<string> | undefined => {
  const out = new Set<string>()
  return parameterReads(checker, local, fn, 0, out, new Map(), 0) ? [...out].sort() : undefined
}

/** How deep a parameter is followed into the functions it is passed to. */
const MAX_CALL_DEPTH = 8

/**
 * Adds to `out` the fields of parameter `index` of `fn` that `fn` reads: directly, by
 * destructuring, or by passing it (as it is) to a local function that reads them. False when
 * the parameter is used any other way. `seen` holds the parameters already followed (a
 * recursive function reads no more on its second visit).
 */
const parameterReads = (
  checker: ts.TypeChecker,
  local: UserFunctions.LocalFiles,
  fn: Nodes.FunctionNode,
  index: number,
  out: Set<string>,
  seen: Map<ts.Node, Set<number>>,
  depth: number
): boolean => {
  if (depth > MAX_CALL_DEPTH || !fn.body) return false
  const indexes = seen.get(fn) ?? new Set<number>()
  if (indexes.has(index)) return true
  seen.set(fn, indexes.add(index))
  // `arguments` and `eval` reach a parameter by other ways than its name.
  let reflective = false
  Nodes.walk(fn, (node) => { if (ts.isIdentifier(node) && (node.text === "arguments" || node.text === "eval")) reflective = true })
  if (reflective) return false
  // TypeScript's `this` parameter takes no argument.
  const parameters = fn.parameters.filter((p) => !(ts.isIdentifier(p.name) && p.name.text === "this"))
  const param = parameters[index]
  // A parameter the function does not declare is not read (unless a rest parameter takes it).
  if (!param) return !parameters.some((p) => p.dotDotDotToken)
  if (param.dotDotDotToken) return false
  if (ts.isObjectBindingPattern(param.name)) {
    const fields = bindingFields(param.name)
    for (const f of fields ?? []) out.add(f)
    return fields !== undefined
  }
  if (!ts.isIdentifier(param.name)) return false
  const symbol = checker.getSymbolAtLocation(param.name)
  if (!symbol) return false
  let followed = true
  // The whole function: a later parameter's default may read this one.
  Nodes.walk(fn, (node) => {
    if (!followed) return false
    if (node === param.name || !ts.isIdentifier(node) || Nodes.resolvedSymbol(checker, node) !== symbol) return
    // `{ r }` passes the item on whole.
    if (ts.isShorthandPropertyAssignment(node.parent)) { followed = false; return }
    const access = accessOf(node)
    if (access !== undefined) {
      const name = accessedName(access)
      if (name === undefined || isWrite(access) || isCallee(access)) followed = false
      else out.add(name)
      return
    }
    const n = outermost(node)
    const parent = n.parent
    // `const { a, b } = r`
    if (ts.isVariableDeclaration(parent) && parent.initializer === n && ts.isObjectBindingPattern(parent.name)) {
      const fields = bindingFields(parent.name)
      if (fields === undefined) followed = false
      else for (const f of fields) out.add(f)
      return
    }
    // `f(r)`, f a local function: what f reads of it.
    if (ts.isCallExpression(parent) && parent.expression !== n) {
      const at = parent.arguments.indexOf(n as ts.Expression)
      const callee = at >= 0 && !parent.arguments.slice(0, at).some(ts.isSpreadElement) ? fixedFunction(checker, local, parent.expression) : undefined
      if (callee === undefined || !parameterReads(checker, local, callee, at, out, seen, depth + 1)) followed = false
      return
    }
    followed = false
  })
  return followed
}

/**
 * The one function an expression names for good: written inline, or declared in a local file
 * as a function or as a `const` of a function. Not a factory's result, a method, a property
 * or a `let`, whose function may be another one when the call runs.
 */
export const fixedFunction = (checker: ts.TypeChecker, local: UserFunctions.LocalFiles, expression: ts.Expression): Nodes.FunctionNode | undefined => {
  const e = Nodes.unwrap(expression)
  if (ts.isArrowFunction(e) || ts.isFunctionExpression(e)) return local.has(e.getSourceFile()) ? e : undefined
  if (!ts.isIdentifier(e) && !ts.isPropertyAccessExpression(e)) return undefined
  const symbol = Nodes.resolvedSymbol(checker, ts.isPropertyAccessExpression(e) ? e.name : e)
  // Overload signatures have no body: the implementation is the function.
  const declarations = (symbol?.declarations ?? []).filter((d) => !(ts.isFunctionDeclaration(d) && d.body === undefined))
  if (declarations.length !== 1) return undefined
  const declaration = declarations[0]!
  if (!local.has(declaration.getSourceFile())) return undefined
  if (ts.isFunctionDeclaration(declaration)) return declaration
  if (!ts.isVariableDeclaration(declaration) || !ts.isIdentifier(declaration.name) || declaration.initializer === undefined || Nodes.isReassignable(declaration)) return undefined
  const initializer = Nodes.unwrap(declaration.initializer)
  return ts.isArrowFunction(initializer) || ts.isFunctionExpression(initializer) ? initializer : undefined
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

/** The function an element call (map, filter, flatMap) was passed, when it is fixed (see fixedFunction). */
const elementFunction = (checker: ts.TypeChecker, local: UserFunctions.LocalFiles, call: DslCalls.DslCall): Nodes.FunctionNode | undefined => {
  const argument = call.functions.find((f) => f.role === "element")
  return argument ? fixedFunction(checker, local, argument.expression) : undefined
}

/** The calls whose function's reads of its item are worth knowing. */
const readingCalls = new Set(["map", "filter", "flatMap"])

/** The facts of every map, filter and flatMap call. */
export const facts = (checker: ts.TypeChecker, local: UserFunctions.LocalFiles, calls: ReadonlyArray<DslCalls.DslCall>): Array<CodeFact.MapCopies | CodeFact.ItemReads> => {
  const out: Array<CodeFact.MapCopies | CodeFact.ItemReads> = []
  for (const call of calls) {
    if (!readingCalls.has(call.method)) continue
    const fn = elementFunction(checker, local, call)
    if (!fn) continue
    if (call.method === "map") {
      const copies = mapCopies(checker, fn)
      if (copies) out.push({ kind: "map-copies", call: Nodes.position(call.name), ...copies })
    }
    const fields = fieldsRead(checker, local, fn)
    if (fields) out.push({ kind: "item-reads", call: Nodes.position(call.name), fields })
  }
  return out
}
