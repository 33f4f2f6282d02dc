import { ts } from "ts-morph"
import * as Nodes from "./Nodes.ts"

/**
 * Every place the module's local files change a variable: `x = ...`, `x += ...`, `x++`,
 * a destructuring assignment, `for (x of ...)`, and writes into an object a variable holds
 * (`seen[k] = true`, `stats.n += 1`).
 */
export interface Write {
  /** The variable written, or holding the object written into. */
  readonly symbol: ts.Symbol
  /** The assignment or update expression. */
  readonly node: ts.Node
  /** The name of the variable at the write. */
  readonly name: ts.Identifier
  /** `variable`: the variable itself; `property`: a field of the object it holds. */
  readonly kind: "variable" | "property"
}

const assignments = new Set([
  ts.SyntaxKind.EqualsToken, ts.SyntaxKind.PlusEqualsToken, ts.SyntaxKind.MinusEqualsToken, ts.SyntaxKind.AsteriskEqualsToken,
  ts.SyntaxKind.AsteriskAsteriskEqualsToken, ts.SyntaxKind.SlashEqualsToken, ts.SyntaxKind.PercentEqualsToken,
  ts.SyntaxKind.LessThanLessThanEqualsToken, ts.SyntaxKind.GreaterThanGreaterThanEqualsToken,
  ts.SyntaxKind.GreaterThanGreaterThanGreaterThanEqualsToken, ts.SyntaxKind.AmpersandEqualsToken, ts.SyntaxKind.BarEqualsToken,
  ts.SyntaxKind.CaretEqualsToken, ts.SyntaxKind.BarBarEqualsToken, ts.SyntaxKind.AmpersandAmpersandEqualsToken,
  ts.SyntaxKind.QuestionQuestionEqualsToken
])

/** The variables an assignment target names, with whether the target is the variable or a field of it. */
const targets = (target: ts.Expression, out: Array<{ name: ts.Identifier; kind: Write["kind"] }>): void => {
  const t = Nodes.unwrap(target)
  if (ts.isIdentifier(t)) out.push({ name: t, kind: "variable" })
  else if (ts.isPropertyAccessExpression(t) || ts.isElementAccessExpression(t)) {
    let root: ts.Expression = t
    while (ts.isPropertyAccessExpression(root) || ts.isElementAccessExpression(root)) root = Nodes.unwrap(root.expression)
    if (ts.isIdentifier(root)) out.push({ name: root, kind: "property" })
  } else if (ts.isObjectLiteralExpression(t)) {
    for (const p of t.properties) {
      if (ts.isShorthandPropertyAssignment(p)) out.push({ name: p.name, kind: "variable" })
      else if (ts.isPropertyAssignment(p)) targets(p.initializer, out)
      else if (ts.isSpreadAssignment(p)) targets(p.expression, out)
    }
  } else if (ts.isArrayLiteralExpression(t)) {
    for (const e of t.elements) targets(ts.isSpreadElement(e) ? e.expression : e, out)
  } else if (ts.isBinaryExpression(t) && t.operatorToken.kind === ts.SyntaxKind.EqualsToken) targets(t.left, out) // a default: [a = 1] = xs
}

export const collect = (checker: ts.TypeChecker, files: ReadonlyArray<ts.SourceFile>): Array<Write> => {
  const writes: Array<Write> = []
  const add = (node: ts.Node, target: ts.Expression) => {
    const found: Array<{ name: ts.Identifier; kind: Write["kind"] }> = []
    targets(target, found)
    for (const { name, kind } of found) {
      const symbol = ts.isShorthandPropertyAssignment(name.parent) ? checker.getShorthandAssignmentValueSymbol(name.parent) : checker.getSymbolAtLocation(name)
      if (symbol) writes.push({ symbol, node, name, kind })
    }
  }
  for (const sf of files) {
    Nodes.walk(sf, (node) => {
      if (ts.isBinaryExpression(node) && assignments.has(node.operatorToken.kind)) add(node, node.left)
      else if ((ts.isPrefixUnaryExpression(node) || ts.isPostfixUnaryExpression(node)) && (node.operator === ts.SyntaxKind.PlusPlusToken || node.operator === ts.SyntaxKind.MinusMinusToken)) add(node, node.operand)
      else if ((ts.isForOfStatement(node) || ts.isForInStatement(node)) && !ts.isVariableDeclarationList(node.initializer)) add(node, node.initializer as ts.Expression)
    })
  }
  return writes
}
