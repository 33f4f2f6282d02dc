import { ts } from "ts-morph"

/** Facts about syntax nodes that every check asks. */

export type FunctionNode = ts.ArrowFunction | ts.FunctionExpression | ts.FunctionDeclaration | ts.MethodDeclaration | ts.GetAccessorDeclaration | ts.SetAccessorDeclaration | ts.ConstructorDeclaration

export const isFunction = (node: ts.Node): node is FunctionNode =>
  ts.isArrowFunction(node) || ts.isFunctionExpression(node) || ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) ||
  ts.isGetAccessorDeclaration(node) || ts.isSetAccessorDeclaration(node) || ts.isConstructorDeclaration(node)

/** The innermost function a node is written in; undefined at a module's top level. */
export const enclosingFunction = (node: ts.Node): FunctionNode | undefined => {
  for (let n = node.parent; n; n = n.parent) if (isFunction(n)) return n
  return undefined
}

/** Whether `inner` is `outer` or written inside it. */
export const within = (inner: ts.Node, outer: ts.Node): boolean =>
  inner.getSourceFile() === outer.getSourceFile() && inner.getStart() >= outer.getStart() && inner.getEnd() <= outer.getEnd()

/** Where a node starts: its file (absolute) and 1-based line and column. */
export interface Position {
  readonly file: string
  readonly line: number
  readonly column: number
}

export const position = (node: ts.Node): Position => {
  const sf = node.getSourceFile()
  const { line, character } = sf.getLineAndCharacterOfPosition(node.getStart(sf))
  return { file: sf.fileName, line: line + 1, column: character + 1 }
}

export const lineOf = (node: ts.Node): number => position(node).line

/** Strips parentheses, `as`, `satisfies` and `!`: the expression that is really there. */
export const unwrap = (node: ts.Expression): ts.Expression => {
  let n = node
  while (ts.isParenthesizedExpression(n) || ts.isAsExpression(n) || ts.isSatisfiesExpression(n) || ts.isNonNullExpression(n) || ts.isTypeAssertionExpression(n)) n = n.expression
  return n
}

/** Every node under `root`, depth first; `enter` returning false skips a node's children. */
export const walk = (root: ts.Node, visit: (node: ts.Node) => boolean | void): void => {
  const go = (node: ts.Node): void => {
    if (visit(node) === false) return
    ts.forEachChild(node, go)
  }
  go(root)
}

/** The code a node was written as, on one line and shortened for a message. */
export const text = (node: ts.Node, max = 60): string => {
  const t = node.getText().replace(/\s+/g, " ")
  return t.length > max ? `${t.slice(0, max - 3)}...` : t
}

/** A loop statement, whose body runs again after later statements. */
export const isLoop = (node: ts.Node): boolean =>
  ts.isForStatement(node) || ts.isForOfStatement(node) || ts.isForInStatement(node) || ts.isWhileStatement(node) || ts.isDoStatement(node)

/** The symbol a name refers to, through imports and re-exports. */
export const resolvedSymbol = (checker: ts.TypeChecker, node: ts.Node): ts.Symbol | undefined => {
  let symbol = checker.getSymbolAtLocation(node)
  if (symbol && ts.isShorthandPropertyAssignment(node.parent) && node.parent.name === node) symbol = checker.getShorthandAssignmentValueSymbol(node.parent) ?? symbol
  if (symbol && symbol.flags & ts.SymbolFlags.Alias) {
    try {
      symbol = checker.getAliasedSymbol(symbol)
    } catch {
      // an import that does not resolve
    }
  }
  return symbol
}

/** A `let` or `var` declaration (a binding that can be reassigned). */
export const isReassignable = (declaration: ts.Declaration): boolean => {
  if (ts.isParameter(declaration)) return true
  let n: ts.Node = declaration
  while (ts.isBindingElement(n) || ts.isObjectBindingPattern(n) || ts.isArrayBindingPattern(n)) n = n.parent
  if (!ts.isVariableDeclaration(n)) return false
  const list = n.parent
  return ts.isVariableDeclarationList(list) && (list.flags & (ts.NodeFlags.Const | ts.NodeFlags.Using | ts.NodeFlags.AwaitUsing)) === 0
}

/** A variable declaration (let, const, var or a parameter), as opposed to a function, class or import. */
export const isVariable = (declaration: ts.Declaration): boolean =>
  ts.isVariableDeclaration(declaration) || ts.isParameter(declaration) || ts.isBindingElement(declaration)
