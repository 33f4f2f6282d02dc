import { ts } from "ts-morph"
import type * as CodeFact from "./CodeFact.ts"
import type * as DslCalls from "./DslCalls.ts"
import * as FieldFlow from "./FieldFlow.ts"
import * as Nodes from "./Nodes.ts"
import * as UserFunctions from "./UserFunctions.ts"

/**
 * GroupBy reducers that only sum or count, read from their TypeScript: the reducer returns
 * accumulations over its items, alone or in an object literal beside the key and literals.
 * An accumulation is a `let` starting at 0 that one statement directly in a
 * `for (const x of items)` loop adds to (`n++`, `n += x.count`, `n = n + 1`), a
 * `[...items].reduce((a, x) => a + x.f, 0)` (or of `Array.from(items)`), or a
 * `[...items].length`. Anything else the reducer does with an accumulation (a condition, a
 * division, a second loop) makes it something else, which a combiner may not preserve:
 * such reducers are left alone.
 */

const isZero = (e: ts.Expression): boolean => {
  const n = Nodes.unwrap(e)
  return (ts.isNumericLiteral(n) || ts.isBigIntLiteral(n)) && /^0n?$/.test(n.text)
}

const isOne = (e: ts.Expression): boolean => {
  const n = Nodes.unwrap(e)
  return ts.isNumericLiteral(n) && n.text === "1"
}

const symbolOf = (checker: ts.TypeChecker, node: ts.Node): ts.Symbol | undefined => {
  if (ts.isShorthandPropertyAssignment(node.parent) && node.parent.name === node) return checker.getShorthandAssignmentValueSymbol(node.parent)
  return checker.getSymbolAtLocation(node)
}

/** The name a binding pattern element reads (`count` in `{ count }` and in `{ count: c }`). */
const propertyOfBinding = (element: ts.BindingElement): string | undefined => {
  if (element.dotDotDotToken) return undefined
  const name = element.propertyName ?? element.name
  return ts.isIdentifier(name) || ts.isStringLiteral(name) ? name.text : undefined
}

/** What `added` adds per item, the item being the loop variable (or a destructuring of it). */
const classifyAdded = (checker: ts.TypeChecker, added: ts.Expression, item: ts.BindingName): CodeFact.Added => {
  const e = Nodes.unwrap(added)
  if (isOne(e)) return { kind: "one" }
  if (ts.isIdentifier(item)) {
    const itemSymbol = checker.getSymbolAtLocation(item)
    if (ts.isIdentifier(e) && checker.getSymbolAtLocation(e) === itemSymbol) return { kind: "item" }
    if (ts.isPropertyAccessExpression(e) && ts.isIdentifier(Nodes.unwrap(e.expression)) && checker.getSymbolAtLocation(Nodes.unwrap(e.expression)) === itemSymbol) {
      return { kind: "field", field: e.name.text }
    }
  } else if (ts.isObjectBindingPattern(item) && ts.isIdentifier(e)) {
    const declaration = checker.getSymbolAtLocation(e)?.valueDeclaration
    if (declaration && ts.isBindingElement(declaration) && declaration.parent === item) {
      const field = propertyOfBinding(declaration)
      if (field !== undefined) return { kind: "field", field }
    }
  }
  return { kind: "value" }
}

/** `items`, `[...items]` or `Array.from(items)`: the items, as a loop or an array method sees them. */
const isItems = (checker: ts.TypeChecker, e: ts.Expression, items: ts.Symbol, asArray: boolean): boolean => {
  const n = Nodes.unwrap(e)
  if (!asArray && ts.isIdentifier(n)) return checker.getSymbolAtLocation(n) === items
  if (ts.isArrayLiteralExpression(n) && n.elements.length === 1) {
    const only = n.elements[0]!
    return ts.isSpreadElement(only) && ts.isIdentifier(Nodes.unwrap(only.expression)) && checker.getSymbolAtLocation(Nodes.unwrap(only.expression)) === items
  }
  if (ts.isCallExpression(n) && n.arguments.length === 1 && ts.isPropertyAccessExpression(n.expression) && n.expression.name.text === "from" &&
    ts.isIdentifier(n.expression.expression) && n.expression.expression.text === "Array") {
    const arg = Nodes.unwrap(n.arguments[0]!)
    return ts.isIdentifier(arg) && checker.getSymbolAtLocation(arg) === items
  }
  return false
}

/** A `let x = 0` accumulated by one statement directly in a `for (const item of items)` loop, and used nowhere else but `returned`. */
const loopAccumulation = (checker: ts.TypeChecker, fn: Nodes.FunctionNode, variable: ts.Identifier, items: ts.Symbol, returned: ts.Node): CodeFact.Added | undefined => {
  const symbol = checker.getSymbolAtLocation(variable)
  const declaration = symbol?.valueDeclaration
  if (!symbol || !declaration || !ts.isVariableDeclaration(declaration) || !Nodes.isReassignable(declaration)) return undefined
  if (Nodes.enclosingFunction(declaration) !== fn || !declaration.initializer || !isZero(declaration.initializer)) return undefined
  let added: CodeFact.Added | undefined
  let steps = 0
  let strayUse = false
  Nodes.walk(fn, (node) => {
    if (!ts.isIdentifier(node) || node === declaration.name || node === returned) return
    if (symbolOf(checker, node) !== symbol) return
    const step = accumulationStep(checker, node, items)
    if (step === undefined) strayUse = true
    else if (step !== "operand") {
      steps++
      added = step
    }
  })
  return !strayUse && steps === 1 ? added : undefined
}

/**
 * What the use `name` of an accumulator does: one accumulation step (what it adds), the
 * right-hand `n` of `n = n + x` ("operand"), or undefined for any other use.
 */
const accumulationStep = (checker: ts.TypeChecker, name: ts.Identifier, items: ts.Symbol): CodeFact.Added | "operand" | undefined => {
  const parent = name.parent
  let statement: ts.Node | undefined
  let added: ((item: ts.BindingName) => CodeFact.Added) | undefined
  if ((ts.isPostfixUnaryExpression(parent) || ts.isPrefixUnaryExpression(parent)) && parent.operator === ts.SyntaxKind.PlusPlusToken) {
    statement = parent.parent
    added = () => ({ kind: "one" })
  } else if (ts.isBinaryExpression(parent) && parent.left === name && parent.operatorToken.kind === ts.SyntaxKind.PlusEqualsToken) {
    statement = parent.parent
    added = (item) => classifyAdded(checker, parent.right, item)
  } else if (ts.isBinaryExpression(parent) && parent.left === name && parent.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
    // n = n + x, n = x + n
    const sum = Nodes.unwrap(parent.right)
    if (!ts.isBinaryExpression(sum) || sum.operatorToken.kind !== ts.SyntaxKind.PlusToken) return undefined
    const isSelf = (e: ts.Expression) => ts.isIdentifier(Nodes.unwrap(e)) && checker.getSymbolAtLocation(Nodes.unwrap(e)) === checker.getSymbolAtLocation(name)
    const other = isSelf(sum.left) ? sum.right : isSelf(sum.right) ? sum.left : undefined
    if (other === undefined) return undefined
    statement = parent.parent
    added = (item) => classifyAdded(checker, other, item)
  } else if (ts.isBinaryExpression(parent) && parent.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    // The `n` read by `n = n + x`: its assignment is the step.
    let sum: ts.Node = parent
    while (ts.isParenthesizedExpression(sum.parent)) sum = sum.parent
    const assignment = sum.parent
    return ts.isBinaryExpression(assignment) && assignment.operatorToken.kind === ts.SyntaxKind.EqualsToken && assignment.right === sum &&
        ts.isIdentifier(assignment.left) && checker.getSymbolAtLocation(assignment.left) === checker.getSymbolAtLocation(name)
      ? "operand"
      : undefined
  }
  if (statement === undefined || added === undefined || !ts.isExpressionStatement(statement)) return undefined
  // Directly the loop's body, or a statement of the block that is: not under a condition.
  const body = ts.isBlock(statement.parent) ? statement.parent : statement
  const loop = body.parent
  if (!loop || !ts.isForOfStatement(loop) || loop.statement !== body || loop.awaitModifier) return undefined
  if (!isItems(checker, loop.expression, items, false)) return undefined
  const list = loop.initializer
  if (!ts.isVariableDeclarationList(list) || list.declarations.length !== 1) return undefined
  return added(list.declarations[0]!.name)
}

/** `[...items].reduce((a, x) => a + f(x), 0)` and `[...items].length` (or of `Array.from(items)`). */
const arrayAccumulation = (checker: ts.TypeChecker, e: ts.Expression, items: ts.Symbol): CodeFact.Added | undefined => {
  if (ts.isPropertyAccessExpression(e) && e.name.text === "length" && isItems(checker, e.expression, items, true)) return { kind: "one" }
  if (!ts.isCallExpression(e) || !ts.isPropertyAccessExpression(e.expression) || e.expression.name.text !== "reduce") return undefined
  if (!isItems(checker, e.expression.expression, items, true) || e.arguments.length !== 2 || !isZero(e.arguments[1]!)) return undefined
  const step = Nodes.unwrap(e.arguments[0]!)
  if (!ts.isArrowFunction(step) || step.parameters.length !== 2 || !ts.isIdentifier(step.parameters[0]!.name) || !ts.isExpression(step.body)) return undefined
  const sum = Nodes.unwrap(step.body)
  if (!ts.isBinaryExpression(sum) || sum.operatorToken.kind !== ts.SyntaxKind.PlusToken) return undefined
  const acc = checker.getSymbolAtLocation(step.parameters[0]!.name)
  const isAcc = (x: ts.Expression) => ts.isIdentifier(Nodes.unwrap(x)) && checker.getSymbolAtLocation(Nodes.unwrap(x)) === acc
  const other = isAcc(sum.left) ? sum.right : isAcc(sum.right) ? sum.left : undefined
  if (other === undefined) return undefined
  // The accumulator is used only as the sum's operand.
  let stray = false
  Nodes.walk(other, (n) => { if (ts.isIdentifier(n) && checker.getSymbolAtLocation(n) === acc) stray = true })
  return stray ? undefined : classifyAdded(checker, other, step.parameters[1]!.name)
}

/** The expressions a function returns (its expression body, or every `return` of its own). */
const returnedExpressions = (fn: Nodes.FunctionNode): Array<ts.Expression> | undefined => {
  if (!fn.body) return undefined
  if (ts.isExpression(fn.body)) return [fn.body]
  const out: Array<ts.Expression> = []
  let bare = false
  Nodes.walk(fn.body, (node) => {
    if (node !== fn.body && Nodes.isFunction(node)) return false
    if (ts.isReturnStatement(node)) {
      if (node.expression) out.push(node.expression)
      else bare = true
    }
    return true
  })
  return bare ? undefined : out
}

const propertyName = (name: ts.PropertyName): string | undefined =>
  ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isNumericLiteral(name) ? name.text : undefined

/** The item type of the dataset a call is made on. */
const receiverItem = (checker: ts.TypeChecker, call: DslCalls.DslCall): ts.Type | undefined => {
  const t = checker.getTypeAtLocation(call.receiver)
  return t.getSymbol()?.getName() === "Dataset" ? checker.getTypeArguments(t as ts.TypeReference)[0] : undefined
}

/** What a function's result (`result`, which it returns) accumulates over its items, when it is only accumulations, the key and literals. */
interface Accumulations {
  readonly accumulators: Array<CodeFact.Accumulator>
  readonly itemName: string | undefined
  /** The variables that hold the accumulations (a `reduce` has none). */
  readonly variables: ReadonlySet<ts.Symbol>
}

const accumulationsOf = (checker: ts.TypeChecker, fn: Nodes.FunctionNode, result: ts.Expression): Accumulations | undefined => {
  const [keyParam, itemsParam] = fn.parameters
  if (!itemsParam || !ts.isIdentifier(itemsParam.name) || itemsParam.dotDotDotToken) return undefined
  const items = checker.getSymbolAtLocation(itemsParam.name)
  const key = keyParam && ts.isIdentifier(keyParam.name) ? checker.getSymbolAtLocation(keyParam.name) : undefined
  if (!items) return undefined
  const variables = new Set<ts.Symbol>()

  let itemName: string | undefined
  const accumulation = (e: ts.Expression): CodeFact.Added | undefined => {
    const n = Nodes.unwrap(e)
    if (ts.isIdentifier(n)) {
      const added = loopAccumulation(checker, fn, n, items, n)
      if (added !== undefined) {
        itemName ??= loopVariableOf(checker, fn, n)
        const symbol = checker.getSymbolAtLocation(n)
        if (symbol) variables.add(symbol)
      }
      return added
    }
    const added = arrayAccumulation(checker, n, items)
    // The reduce's item parameter.
    if (added !== undefined && ts.isCallExpression(n)) {
      const step = Nodes.unwrap(n.arguments[0]!)
      const param = ts.isArrowFunction(step) ? step.parameters[1]?.name : undefined
      if (param && ts.isIdentifier(param) && !param.text.startsWith("_")) itemName ??= param.text
    }
    return added
  }
  const shorthandAccumulation = (property: ts.ShorthandPropertyAssignment): CodeFact.Added | undefined => {
    const symbol = checker.getShorthandAssignmentValueSymbol(property)
    const declaration = symbol?.valueDeclaration
    if (!declaration || !ts.isVariableDeclaration(declaration) || !ts.isIdentifier(declaration.name)) return undefined
    const added = loopAccumulation(checker, fn, declaration.name, items, property.name)
    if (added !== undefined) {
      itemName ??= loopVariableOf(checker, fn, declaration.name)
      variables.add(symbol!)
    }
    return added
  }
  // The key (or a field of it) and literals are the same for every partial result.
  const isConstant = (e: ts.Expression): boolean => {
    const n = Nodes.unwrap(e)
    if (ts.isLiteralExpression(n) || n.kind === ts.SyntaxKind.NullKeyword || n.kind === ts.SyntaxKind.TrueKeyword || n.kind === ts.SyntaxKind.FalseKeyword) return true
    if (ts.isIdentifier(n)) return key !== undefined && symbolOf(checker, n) === key
    return ts.isPropertyAccessExpression(n) && isConstant(n.expression)
  }

  const accumulators: Array<CodeFact.Accumulator> = []
  if (ts.isObjectLiteralExpression(result)) {
    for (const property of result.properties) {
      let name: string | undefined
      let value: ts.Expression
      if (ts.isShorthandPropertyAssignment(property)) {
        name = property.name.text
        value = property.name
      } else if (ts.isPropertyAssignment(property)) {
        name = propertyName(property.name)
        value = property.initializer
      } else return undefined
      if (name === undefined) return undefined
      const added = ts.isShorthandPropertyAssignment(property) ? shorthandAccumulation(property) : accumulation(value)
      if (added !== undefined) accumulators.push({ property: name, adds: added })
      else if (!isConstant(value)) return undefined
    }
  } else {
    const added = accumulation(result)
    if (added !== undefined) accumulators.push({ property: null, adds: added })
  }
  return accumulators.length === 0 ? undefined : { accumulators, itemName, variables }
}

/** What a groupBy's reducer accumulates, if it only sums or counts. */
export const reducer = (checker: ts.TypeChecker, local: UserFunctions.LocalFiles, call: DslCalls.DslCall): CodeFact.ReducerAccumulates | undefined => {
  if (call.method !== "groupBy") return undefined
  const argument = call.functions.find((f) => f.role === "reducer")
  if (!argument) return undefined
  const resolved = UserFunctions.resolve(checker, local, argument.expression)
  if (resolved.length !== 1) return undefined
  const fn = resolved[0]!
  const [keyParam, itemsParam] = fn.parameters
  if (!itemsParam || !ts.isIdentifier(itemsParam.name)) return undefined
  const returned = returnedExpressions(fn)
  if (returned === undefined || returned.length !== 1) return undefined
  const found = accumulationsOf(checker, fn, Nodes.unwrap(returned[0]!))
  if (found === undefined) return undefined

  const item = receiverItem(checker, call)
  const signature = checker.getSignatureFromDeclaration(fn as ts.SignatureDeclaration)
  const output = signature && checker.getReturnTypeOfSignature(signature)
  const returnsItem = item !== undefined && output !== undefined && (item.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) === 0 &&
    checker.isTypeAssignableTo(output, item)
  return {
    kind: "reducer-accumulates",
    call: Nodes.position(call.name),
    reducer: ts.isIdentifier(Nodes.unwrap(argument.expression)) ? (Nodes.unwrap(argument.expression) as ts.Identifier).text : null,
    keyName: keyParam && ts.isIdentifier(keyParam.name) && !keyParam.name.text.startsWith("_") ? keyParam.name.text : "key",
    itemsName: itemsParam.name.text,
    itemName: found.itemName ?? "item",
    accumulators: found.accumulators,
    returnsItem
  }
}

/**
 * Whether `fn` (parameters key and items) computes `result` and does nothing else: an
 * expression body, or `let` accumulators starting at 0, loops over the items whose every
 * statement is an accumulation step, and the return. Only then does adding numbers in place do
 * all that calling it would. The items are then read only by those loops and by the
 * accumulations in the result: each step is the one `loopAccumulation` allowed its variable
 * (adding `item.field`, in a loop over the items), and the result holds nothing else.
 */
const onlyAccumulates = (checker: ts.TypeChecker, fn: Nodes.FunctionNode, found: Accumulations): boolean => {
  const isAccumulator = (e: ts.Node): boolean => ts.isIdentifier(e) && found.variables.has(checker.getSymbolAtLocation(e)!)
  const isStep = (statement: ts.Statement): boolean => {
    if (!ts.isExpressionStatement(statement)) return false
    const e = statement.expression
    if (ts.isPostfixUnaryExpression(e) || ts.isPrefixUnaryExpression(e)) return isAccumulator(e.operand)
    return ts.isBinaryExpression(e) && isAccumulator(e.left)
  }
  if (!fn.body || ts.isExpression(fn.body)) return true
  const statements = fn.body.statements
  return statements.every((statement, i) => {
    if (ts.isReturnStatement(statement)) return i === statements.length - 1
    if (ts.isVariableStatement(statement)) {
      return statement.declarationList.declarations.every((d) => ts.isIdentifier(d.name) && found.variables.has(checker.getSymbolAtLocation(d.name)!) && d.initializer !== undefined && isZero(d.initializer))
    }
    if (ts.isForOfStatement(statement)) {
      const body = statement.statement
      return ts.isBlock(body) ? body.statements.length > 0 && body.statements.every(isStep) : isStep(body)
    }
    return false
  })
}

/** A function called as it is written (not async, not a generator), of a key and items named plainly. */
const isPlainKeyItems = (fn: Nodes.FunctionNode): boolean =>
  fn.asteriskToken === undefined && !(ts.canHaveModifiers(fn) && ts.getModifiers(fn)?.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword)) &&
  fn.parameters.length === 2 && fn.parameters.every((p) => ts.isIdentifier(p.name) && !p.dotDotDotToken)

/**
 * What a groupBy's combiner sums, when it returns `[{ ...sums, ...key or literals }]` (written
 * in it, or by a local reducer it calls with its own key and items) and does nothing else:
 * each accumulation adds a field of the items into the same field of the result, so combining
 * an item into a partial result adds its fields to the partial's.
 */
export const combiner = (checker: ts.TypeChecker, local: UserFunctions.LocalFiles, call: DslCalls.DslCall): CodeFact.CombinerSums | undefined => {
  if (call.method !== "groupBy") return undefined
  const argument = call.functions.find((f) => f.role === "combiner")
  const fn = argument && FieldFlow.fixedFunction(checker, local, argument.expression)
  if (!fn || !isPlainKeyItems(fn)) return undefined
  const returned = returnedExpressions(fn)
  if (returned === undefined || returned.length !== 1) return undefined
  const list = Nodes.unwrap(returned[0]!)
  if (!ts.isArrayLiteralExpression(list) || list.elements.length !== 1 || ts.isSpreadElement(list.elements[0]!)) return undefined
  let summer = fn
  let result = Nodes.unwrap(list.elements[0]!)
  if (ts.isCallExpression(result)) {
    // `[sumCounts(key, items)]`: all the combiner does is call a local function with its own parameters.
    if (fn.body && !ts.isExpression(fn.body) && (fn.body.statements.length !== 1 || !ts.isReturnStatement(fn.body.statements[0]!))) return undefined
    const own = fn.parameters.map((p) => checker.getSymbolAtLocation(p.name))
    const args = result.arguments.map((a) => Nodes.unwrap(a))
    if (args.length !== 2 || args.some((a, i) => !ts.isIdentifier(a) || checker.getSymbolAtLocation(a) !== own[i])) return undefined
    const callee = FieldFlow.fixedFunction(checker, local, result.expression)
    if (!callee || !isPlainKeyItems(callee)) return undefined
    const calleeReturns = returnedExpressions(callee)
    if (calleeReturns === undefined || calleeReturns.length !== 1) return undefined
    summer = callee
    result = Nodes.unwrap(calleeReturns[0]!)
  }
  if (!ts.isObjectLiteralExpression(result)) return undefined
  const found = accumulationsOf(checker, summer, result)
  if (found === undefined || !onlyAccumulates(checker, summer, found)) return undefined
  const fields: Array<string> = []
  for (const a of found.accumulators) {
    // `__proto__` in an object literal sets its prototype.
    if (a.adds.kind !== "field" || a.property !== a.adds.field || a.property === "__proto__") return undefined
    fields.push(a.property)
  }
  return { kind: "combiner-sums", call: Nodes.position(call.name), fields: [...new Set(fields)].sort() }
}

/** The name of the loop variable of the loop that accumulates `variable`, when it is a plain name. */
const loopVariableOf = (checker: ts.TypeChecker, fn: Nodes.FunctionNode, variable: ts.Identifier): string | undefined => {
  const symbol = checker.getSymbolAtLocation(variable)
  let name: string | undefined
  Nodes.walk(fn, (node) => {
    if (name !== undefined || !ts.isForOfStatement(node) || !ts.isVariableDeclarationList(node.initializer)) return
    const declared = node.initializer.declarations[0]?.name
    let uses = false
    Nodes.walk(node.statement, (n) => { if (ts.isIdentifier(n) && checker.getSymbolAtLocation(n) === symbol) uses = true })
    if (uses && declared && ts.isIdentifier(declared) && !declared.text.startsWith("_")) name = declared.text
  })
  return name
}

/** The reducer facts of every groupBy call. */
export const facts = (checker: ts.TypeChecker, local: UserFunctions.LocalFiles, calls: ReadonlyArray<DslCalls.DslCall>): Array<CodeFact.ReducerAccumulates | CodeFact.CombinerSums> =>
  calls.flatMap((call) => [reducer(checker, local, call), combiner(checker, local, call)].filter((f) => f !== undefined))
