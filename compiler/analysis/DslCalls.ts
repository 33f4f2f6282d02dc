import { ts } from "ts-morph"
import { OpKind } from "../../plan/OpKind.ts"
import * as Nodes from "./Nodes.ts"
import * as Project from "./Project.ts"

/**
 * The DSL calls of a pipeline module (`Dataset.readText(...)`, `.flatMap(splitWords)`,
 * `.groupBy(...)`), found by their type (methods of the engine's `Dataset`), and the
 * functions passed to each. Findings about a call carry the position of its method's name,
 * which is where the DSL records the call's location: Check matches them to the plan's ops
 * by it (file, line and column).
 */

/** What a function passed to a DSL call is for; decides which checks apply. */
export type Role =
  | "element" // map, filter, flatMap, mapEffect, mapShard: runs on every item
  | "key" // groupBy / deduplicate key, join keys: decides where an item goes
  | "sortBy"
  | "path" // a writer's output path function
  | "reducer" // groupBy reducer, reduce's local and global folds
  | "combiner"
  | "fold" // windowBy

export interface FunctionArgument {
  readonly role: Role
  /** As a message says it: `the key function of groupBy`. */
  readonly label: string
  readonly expression: ts.Expression
}

export interface DslCall {
  readonly call: ts.CallExpression
  readonly method: string
  /** The method's name: where the DSL records the call's location. */
  readonly name: ts.Node
  readonly receiver: ts.Expression
  readonly functions: ReadonlyArray<FunctionArgument>
}

const writers = new Set(["writeJsonl", "writeParquet", "writeText", "writeCsv"])

const optionFunctions = (call: ts.CallExpression, index: number, roles: Readonly<Record<string, readonly [Role, string]>>, method: string): Array<FunctionArgument> => {
  const arg = call.arguments[index]
  if (!arg) return []
  const options = Nodes.unwrap(arg)
  if (!ts.isObjectLiteralExpression(options)) return []
  const out: Array<FunctionArgument> = []
  for (const property of options.properties) {
    const name = property.name && (ts.isIdentifier(property.name) || ts.isStringLiteral(property.name)) ? property.name.text : undefined
    const role = name === undefined ? undefined : roles[name]
    if (!role) continue
    const label = `${role[1]} of ${method}`
    if (ts.isPropertyAssignment(property)) out.push({ role: role[0], label, expression: property.initializer })
    else if (ts.isShorthandPropertyAssignment(property)) out.push({ role: role[0], label, expression: property.name })
    else if (ts.isMethodDeclaration(property)) out.push({ role: role[0], label, expression: property as unknown as ts.Expression })
  }
  return out
}

/** The functions a call to `method` takes, by position and option name. */
export const functionsOf = (method: string, call: ts.CallExpression): Array<FunctionArgument> => {
  const at = (index: number, role: Role, label: string): Array<FunctionArgument> => {
    const arg = call.arguments[index]
    return arg ? [{ role, label: `${label} of ${method}`, expression: arg }] : []
  }
  switch (method) {
    case OpKind.map: case OpKind.filter: case OpKind.flatMap: case OpKind.mapEffect: case OpKind.mapShard:
      return at(0, "element", "the function")
    case OpKind.windowBy:
      return at(0, "fold", "the fold")
    case OpKind.groupBy:
      return [...at(0, "key", "the key function"), ...at(1, "reducer", "the reducer"), ...optionFunctions(call, 2, { sortBy: ["sortBy", "sortBy"], combiner: ["combiner", "the combiner"] }, method)]
    case OpKind.deduplicate:
      return at(0, "key", "the key function")
    case OpKind.reduce:
      return [...at(0, "reducer", "the local reducer"), ...at(1, "reducer", "the global reducer")]
    case OpKind.sortedMergeJoin:
      return optionFunctions(call, 1, { leftKey: ["key", "leftKey"], rightKey: ["key", "rightKey"], combiner: ["combiner", "the combiner"] }, method)
    default: {
      if (!writers.has(method)) return []
      const arg = call.arguments[0]
      // A pattern string is not a function; only `(shard, total) => path` is.
      return arg && !ts.isStringLiteralLike(Nodes.unwrap(arg)) && !ts.isTemplateExpression(Nodes.unwrap(arg)) ? at(0, "path", "the output path function") : []
    }
  }
}

/** Whether a method name's symbol is a method of the engine's Dataset class. */
const isDatasetMethod = (checker: ts.TypeChecker, name: ts.Node): boolean => {
  const symbol = checker.getSymbolAtLocation(name)
  for (const declaration of symbol?.declarations ?? []) {
    const owner = declaration.parent
    if (ts.isClassDeclaration(owner) && owner.name?.text === "Dataset" && Project.isEngineFile(declaration.getSourceFile().fileName)) return true
  }
  return false
}

/** Every DSL call in the module's local files. */
export const find = (program: Project.ModuleProgram): Array<DslCall> => {
  const calls: Array<DslCall> = []
  for (const sf of program.localFiles) {
    Nodes.walk(sf, (node) => {
      if (!ts.isCallExpression(node)) return
      const callee = Nodes.unwrap(node.expression)
      if (!ts.isPropertyAccessExpression(callee)) return
      if (!isDatasetMethod(program.checker, callee.name)) return
      calls.push({ call: node, method: callee.name.text, name: callee.name, receiver: callee.expression, functions: functionsOf(callee.name.text, node) })
    })
  }
  return calls
}
