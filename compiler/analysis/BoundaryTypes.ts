import { ts } from "ts-morph"
import { OpKind } from "../../plan/OpKind.ts"
import type * as DslCalls from "./DslCalls.ts"
import * as Finding from "./Finding.ts"
import * as Nodes from "./Nodes.ts"

/**
 * Items cross a stage boundary (a shuffle, a reshard, a join's right side, a fold's partial
 * results) as msgpack, encoded as runtime/storage/BlockFile encodes them. With its options
 * (`moreTypes`) plain data arrives as it left, and so do Dates, byte and typed arrays,
 * RegExps, Errors, Sets and `undefined` fields; but a class instance arrives as a plain
 * object (no prototype, no methods, no getters), a Map as a plain object, a function as
 * `undefined`, and a symbol fails the encoding. This check reads the item type at every
 * boundary with the type checker and names the first such value it holds.
 * (test/compiler/analysis/BoundaryTypes.test.ts checks this list against BlockFile.)
 */

/** Built-in types msgpack carries as they are (their contents are checked, where they have any). */
const carried = new Set([
  "Date", "RegExp", "Error", "ArrayBuffer", "SharedArrayBuffer", "DataView", "Buffer",
  "Uint8Array", "Uint8ClampedArray", "Int8Array", "Uint16Array", "Int16Array", "Uint32Array", "Int32Array",
  "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array"
])
const containers = new Set(["Set", "ReadonlySet"])
const lost: Readonly<Record<string, string>> = {
  Map: "arrives as a plain object",
  ReadonlyMap: "arrives as a plain object",
  WeakMap: "arrives as an empty object",
  WeakSet: "arrives as an empty object",
  WeakRef: "arrives as an empty object",
  Promise: "arrives as an empty object, not a value"
}

interface Problem {
  /** Where in the item: `` (the item itself), `.tags`, `[]`, `.byUser[key]`. */
  readonly at: string
  readonly what: string
}

const crossing = (checker: ts.TypeChecker, call: DslCalls.DslCall): { readonly type: ts.Type; readonly boundary: string } | undefined => {
  const datasetItem = (e: ts.Expression): ts.Type | undefined => {
    const t = checker.getTypeAtLocation(e)
    if (t.getSymbol()?.getName() !== "Dataset") return undefined
    return checker.getTypeArguments(t as ts.TypeReference)[0]
  }
  switch (call.method) {
    case OpKind.groupBy: case OpKind.deduplicate: {
      const type = datasetItem(call.receiver)
      return type && { type, boundary: `the shuffle of ${call.method}` }
    }
    case OpKind.reshard: {
      const type = datasetItem(call.receiver)
      return type && { type, boundary: "reshard" }
    }
    case OpKind.reduce: {
      const type = datasetItem(call.call)
      return type && { type, boundary: "the partial results of reduce" }
    }
    case OpKind.sortedMergeJoin: {
      const right = call.call.arguments[0]
      const type = right && datasetItem(right)
      return type && { type, boundary: "the right side of sortedMergeJoin" }
    }
    default:
      return undefined
  }
}

const inspect = (checker: ts.TypeChecker, type: ts.Type, at: string, depth: number, seen: Set<ts.Type>): Problem | undefined => {
  if (depth > 6 || seen.has(type)) return undefined
  const flags = type.flags
  if (flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown | ts.TypeFlags.Never | ts.TypeFlags.TypeParameter)) return undefined
  if (flags & ts.TypeFlags.ESSymbolLike) return { at, what: "a symbol, which msgpack cannot encode (the task fails)" }
  if (type.isUnionOrIntersection()) {
    for (const t of type.types) {
      const p = inspect(checker, t, at, depth + 1, seen)
      if (p) return p
    }
    return undefined
  }
  if (!(flags & ts.TypeFlags.Object)) return undefined
  seen.add(type)
  try {
    const name = type.getSymbol()?.getName() ?? ""
    const printed = checker.typeToString(type)
    if (checker.isArrayType(type) || checker.isTupleType(type)) {
      for (const t of checker.getTypeArguments(type as ts.TypeReference)) {
        const p = inspect(checker, t, `${at}[]`, depth + 1, seen)
        if (p) return p
      }
      return undefined
    }
    if (carried.has(name)) return undefined
    if (lost[name] !== undefined) return { at, what: `a ${printed}, which ${lost[name]}` }
    if (containers.has(name)) {
      for (const t of checker.getTypeArguments(type as ts.TypeReference)) {
        const p = inspect(checker, t, `${at}[]`, depth + 1, seen)
        if (p) return p
      }
      return undefined
    }
    if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0) return { at, what: "a function, which arrives as undefined" }
    const symbol = type.getSymbol()
    if (symbol && symbol.flags & ts.SymbolFlags.Class) {
      return { at, what: `an instance of class ${symbol.getName()}, which arrives as a plain object, without its prototype (methods, getters, instanceof)` }
    }
    for (const property of checker.getPropertiesOfType(type)) {
      const declaration = property.valueDeclaration ?? property.declarations?.[0]
      if (property.flags & ts.SymbolFlags.Method) return { at: `${at}.${property.getName()}`, what: "a method, which arrives as undefined" }
      const t = declaration ? checker.getTypeOfSymbolAtLocation(property, declaration) : checker.getTypeOfSymbol(property)
      const p = inspect(checker, t, `${at}.${property.getName()}`, depth + 1, seen)
      if (p) return p
    }
    for (const index of checker.getIndexInfosOfType(type)) {
      const p = inspect(checker, index.type, `${at}[key]`, depth + 1, seen)
      if (p) return p
    }
    return undefined
  } finally {
    seen.delete(type)
  }
}

const shortType = (checker: ts.TypeChecker, type: ts.Type): string => {
  const s = checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation)
  return s.length > 80 ? `${s.slice(0, 77)}...` : s
}

export const check = (checker: ts.TypeChecker, calls: ReadonlyArray<DslCalls.DslCall>): Array<Finding.Finding> => {
  const out: Array<Finding.Finding> = []
  for (const call of calls) {
    const crossed = crossing(checker, call)
    if (!crossed) continue
    const problem = inspect(checker, crossed.type, "", 0, new Set())
    if (!problem) continue
    const part = problem.at === "" ? "each item is" : `\`${problem.at.replace(/^\./, "")}\` is`
    out.push(Finding.at(call.name, {
      code: "lossy-boundary-type",
      severity: "warning",
      message: `Items of type \`${shortType(checker, crossed.type)}\` cross ${crossed.boundary} at line ${Nodes.lineOf(call.name)} as msgpack, and ${part} ${problem.what}.`,
      hint: "Turn it into plain data before this call (plain objects and arrays, Date, Uint8Array; e.g. Object.fromEntries(map), a plain object instead of a class instance) and rebuild it after.",
      call: call.name
    }))
  }
  return out
}
