import { ts } from "ts-morph"
import type * as DslCalls from "./DslCalls.ts"
import * as Nodes from "./Nodes.ts"
import * as UserFunctions from "./UserFunctions.ts"

/**
 * The code that runs while the pipeline is built, in the driver and again in every worker
 * process: the top level of the module and of its local imports, every function that makes
 * DSL calls (the exported builder, helpers that add steps), and the local functions those
 * call. Functions passed to DSL calls, and other functions that are only defined there
 * (a layer's effect, a callback), run later and are not part of it.
 */
export interface BuilderCode {
  /** Roots whose code runs at build time; `visit` walks them. */
  readonly roots: ReadonlyArray<ts.Node>
}

const isImmediatelyCalled = (fn: ts.Node): boolean => {
  let n = fn
  while (ts.isParenthesizedExpression(n.parent)) n = n.parent
  return ts.isCallExpression(n.parent) && n.parent.expression === n
}

/** Visits the build-time code under `root`, skipping the bodies of functions defined there (not called). */
const walkRoot = (root: ts.Node, visit: (node: ts.Node) => void): void =>
  Nodes.walk(root, (node) => {
    if (node !== root && Nodes.isFunction(node) && !isImmediatelyCalled(node)) return false
    visit(node)
    return true
  })

export const collect = (
  checker: ts.TypeChecker,
  localFiles: ReadonlyArray<ts.SourceFile>,
  calls: ReadonlyArray<DslCalls.DslCall>,
  userFunctions: ReadonlySet<ts.Node>
): BuilderCode => {
  const local = new Set(localFiles)
  const roots: Array<ts.Node> = [...localFiles]
  const seen = new Set<ts.Node>(roots)
  const add = (node: ts.Node) => {
    if (seen.has(node) || userFunctions.has(node)) return
    seen.add(node)
    roots.push(node)
  }
  for (const call of calls) {
    for (let fn = Nodes.enclosingFunction(call.call); fn && !userFunctions.has(fn); fn = Nodes.enclosingFunction(fn)) add(fn)
  }
  // Local functions the build-time code calls run at build time too.
  for (let i = 0; i < roots.length && roots.length < 500; i++) {
    walkRoot(roots[i]!, (node) => {
      if (ts.isCallExpression(node) || ts.isNewExpression(node)) {
        for (const fn of UserFunctions.resolve(checker, local, node.expression)) add(fn)
      }
    })
  }
  return { roots }
}

/** Every node of the build-time code, once. */
export const visit = (code: BuilderCode, f: (node: ts.Node) => void): void => {
  const seen = new Set<ts.Node>()
  for (const root of code.roots) walkRoot(root, (node) => {
    if (seen.has(node)) return
    seen.add(node)
    f(node)
  })
}
