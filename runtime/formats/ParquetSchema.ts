import { Schema, SchemaAST as AST } from "effect"
import type { SchemaElement } from "hyparquet"
import { dataError } from "./DataError.ts"

/**
 * The shape of Parquet rows: inferred from the rows themselves (widening as rows arrive)
 * or given explicitly (an Effect Schema of a struct, or a plain description such as
 * `{ id: "int", tags: ["string"], meta: { score: "double" } }`), then turned into a
 * Parquet schema and used to check and encode each row.
 *
 * Every column and nested field is OPTIONAL; integers are INT64, other numbers DOUBLE,
 * strings UTF8 byte arrays, `Date`s millisecond timestamps, `Uint8Array`s byte arrays,
 * arrays 3-level LISTs and plain objects groups. A column that only ever held nulls is a
 * UTF8 column of nulls; an object with no fields is stored as JSON.
 */
export type Shape =
  | { readonly kind: "null" | "boolean" | "int" | "double" | "string" | "bytes" | "timestamp" | "json" }
  | { readonly kind: "list"; readonly element: Shape }
  | { readonly kind: "struct"; readonly fields: ReadonlyMap<string, Shape> }

type Kind = Shape["kind"]

/** Integral numbers at or past 2^63 do not fit INT64: they are floats. */
const INT64_LIMIT = 2 ** 63

const typeName: Record<Kind, string> = {
  null: "null", boolean: "boolean", int: "int", double: "float", string: "string", bytes: "bytes",
  timestamp: "timestamp", json: "json", list: "list", struct: "struct"
}

/** The kind of a single value: undefined for null/undefined, "unsupported" for functions, symbols, Maps, Sets... */
const kindOf = (v: unknown): Kind | "unsupported" | undefined => {
  if (v === null || v === undefined) return undefined
  switch (typeof v) {
    case "boolean": return "boolean"
    case "number": return Number.isInteger(v) && Math.abs(v) < INT64_LIMIT ? "int" : "double"
    case "bigint": return "int"
    case "string": return "string"
    case "object":
      if (Array.isArray(v)) return "list"
      if (v instanceof Uint8Array) return "bytes"
      if (v instanceof Date) return "timestamp"
      if (isRecord(v)) return "struct"
  }
  return "unsupported"
}

/** Plain objects and class instances (e.g. decoded `Schema.Class` rows) are records; collections are not. */
const isRecord = (v: object): boolean => !(v instanceof Map || v instanceof Set || ArrayBuffer.isView(v) || v instanceof ArrayBuffer || v instanceof Promise)

const describe = (v: unknown): string => {
  const k = kindOf(v)
  if (k !== "unsupported" && k !== undefined) return typeName[k]
  return v === null || v === undefined ? "null" : typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v
}

// ---- inference ---------------------------------------------------------------------------

/** Parquet rows are records: plain objects or class instances. */
export const checkRecord = (row: unknown, rowNumber: number, file: string): void => {
  if (kindOf(row) !== "struct") {
    throw dataError(`writeParquet needs records (objects), but row ${rowNumber} of ${file} is ${describe(row)}`, { file })
  }
}

/** The approximate in-memory size of a value, to bound row groups in bytes as well as rows. */
export const approxBytes = (v: unknown): number => {
  if (typeof v === "string") return v.length + 4
  if (v === null || typeof v !== "object") return 8
  if (v instanceof Uint8Array) return v.length + 4
  if (v instanceof Date) return 8
  let bytes = 8
  if (Array.isArray(v)) for (const x of v) bytes += approxBytes(x)
  else for (const k in v) bytes += approxBytes((v as Record<string, unknown>)[k])
  return bytes
}

interface Node {
  kind: Kind
  element?: Node
  fields?: Map<string, Node>
}

/** A column's shape so far, widened by every row: null → concrete, int → float, new fields added. */
export class Inference {
  private readonly root = new Map<string, Node>()

  constructor(private readonly file: string) {}

  /** Widens the shape with one row (1-based `rowNumber` for messages); returns its approximate size in bytes. */
  observe(row: unknown, rowNumber: number): number {
    checkRecord(row, rowNumber, this.file)
    let bytes = 0
    for (const key in row as object) {
      let node = this.root.get(key)
      if (node === undefined) { node = { kind: "null" }; this.root.set(key, node) }
      bytes += this.widen(node, (row as Record<string, unknown>)[key], key, rowNumber)
    }
    return bytes
  }

  private widen(node: Node, v: unknown, path: string, rowNumber: number): number {
    const k = kindOf(v)
    if (k === undefined) return 1
    if (k === "unsupported") {
      throw dataError(`Cannot write column "${path}" of ${this.file} to Parquet: row ${rowNumber} holds a ${describe(v)}`, { file: this.file })
    }
    if (node.kind !== k) {
      if (node.kind === "null") {
        node.kind = k
        if (k === "list") node.element = { kind: "null" }
        if (k === "struct") node.fields = new Map()
      } else if ((node.kind === "int" && k === "double") || (node.kind === "double" && k === "int")) {
        node.kind = "double"
      } else {
        throw dataError(
          `Parquet schema conflict in ${this.file}: column "${path}" holds ${typeName[node.kind]} values and ${article(typeName[k])} ${typeName[k]} value (row ${rowNumber}: ${preview(v)}); make the column one type or pass an explicit schema`,
          { file: this.file }
        )
      }
    }
    if (k === "list") {
      let bytes = 8
      for (const item of v as ReadonlyArray<unknown>) bytes += this.widen(node.element!, item, `${path}[]`, rowNumber)
      return bytes
    }
    if (k === "struct") {
      const fields = node.fields!
      let bytes = 8
      for (const key in v as object) {
        let child = fields.get(key)
        if (child === undefined) { child = { kind: "null" }; fields.set(key, child) }
        bytes += this.widen(child, (v as Record<string, unknown>)[key], `${path}.${key}`, rowNumber)
      }
      return bytes
    }
    return k === "string" ? (v as string).length + 4 : k === "bytes" ? (v as Uint8Array).length + 4 : 8
  }

  /** The shape of every column seen so far, in first-seen order. */
  shape(): ReadonlyMap<string, Shape> {
    return new Map([...this.root].map(([k, n]) => [k, freeze(n)]))
  }
}

const freeze = (n: Node): Shape => {
  if (n.kind === "list") return { kind: "list", element: freeze(n.element!) }
  if (n.kind === "struct") {
    return n.fields!.size === 0 ? { kind: "json" } : { kind: "struct", fields: new Map([...n.fields!].map(([k, c]) => [k, freeze(c)])) }
  }
  return { kind: n.kind }
}

const article = (word: string): string => (/^[aeiou]/.test(word) ? "an" : "a")

const preview = (v: unknown): string => {
  const s = typeof v === "string" ? JSON.stringify(v) : String(v)
  return s.length > 60 ? `${s.slice(0, 57)}...` : s
}

// ---- explicit schemas --------------------------------------------------------------------

const named: Record<string, Kind> = {
  int: "int", int64: "int", integer: "int", bigint: "int",
  double: "double", float: "double", number: "double",
  string: "string", utf8: "string",
  bool: "boolean", boolean: "boolean",
  bytes: "bytes", binary: "bytes",
  timestamp: "timestamp", date: "timestamp",
  json: "json"
}

/**
 * The columns of an explicit `schema` option: an Effect Schema of a struct, or a plain
 * description (`"int"`, `"double"`, `"string"`, `"boolean"`, `"bytes"`, `"timestamp"`,
 * `"json"`, `[element]`, `{ field: ... }`).
 */
export const explicitShape = (schema: unknown, file: string): ReadonlyMap<string, Shape> => {
  const shape = Schema.isSchema(schema) ? fromAst(AST.typeAST(schema.ast), 0) : fromDescription(schema, "schema", file)
  if (shape.kind !== "struct") {
    throw dataError(`The writeParquet schema for ${file} must describe a record (a Schema.Struct or an object of column types)`, { file })
  }
  return shape.fields
}

const fromDescription = (d: unknown, at: string, file: string): Shape => {
  if (typeof d === "string" && named[d.toLowerCase()] !== undefined) return { kind: named[d.toLowerCase()]! } as Shape
  if (Array.isArray(d) && d.length === 1) return { kind: "list", element: fromDescription(d[0], `${at}[]`, file) }
  if (d !== null && typeof d === "object" && !Array.isArray(d) && Object.keys(d).length > 0) {
    return { kind: "struct", fields: new Map(Object.entries(d).map(([k, v]) => [k, fromDescription(v, `${at}.${k}`, file)])) }
  }
  throw dataError(
    `Invalid writeParquet schema for ${file} at ${at}: ${JSON.stringify(d) ?? String(d)}; use "int", "double", "string", "boolean", "bytes", "timestamp", "json", [element] or { field: type }`,
    { file }
  )
}

const identifier = (ast: AST.AST): string | undefined => {
  const id = AST.getIdentifierAnnotation(ast)
  return id._tag === "Some" ? id.value : undefined
}

const fromAst = (ast: AST.AST, depth: number): Shape => {
  if (depth > 32) return { kind: "json" }
  switch (ast._tag) {
    case "StringKeyword": case "TemplateLiteral": return { kind: "string" }
    case "NumberKeyword": return { kind: "double" }
    case "BooleanKeyword": return { kind: "boolean" }
    case "BigIntKeyword": return { kind: "int" }
    case "UndefinedKeyword": case "VoidKeyword": return { kind: "null" }
    case "Literal": {
      const v = ast.literal
      return v === null ? { kind: "null" } : typeof v === "string" ? { kind: "string" } : typeof v === "boolean" ? { kind: "boolean" } : typeof v === "bigint" ? { kind: "int" } : { kind: "double" }
    }
    case "Enums": return ast.enums.every(([, v]) => typeof v === "string") ? { kind: "string" } : { kind: "double" }
    case "Refinement": return identifier(ast) === "Int" ? { kind: "int" } : fromAst(ast.from, depth + 1)
    case "Suspend": return fromAst(ast.f(), depth + 1)
    case "Transformation": return fromAst(ast.to, depth + 1)
    case "Declaration": {
      const id = identifier(ast)
      return id === "DateFromSelf" || id === "ValidDateFromSelf" ? { kind: "timestamp" } : id === "Uint8ArrayFromSelf" ? { kind: "bytes" } : { kind: "json" }
    }
    case "TupleType":
      return ast.elements.length === 0 && ast.rest.length === 1 ? { kind: "list", element: fromAst(ast.rest[0]!.type, depth + 1) } : { kind: "json" }
    case "TypeLiteral": {
      if (ast.propertySignatures.length === 0) return { kind: "json" }
      const fields = new Map<string, Shape>()
      for (const p of ast.propertySignatures) if (typeof p.name === "string") fields.set(p.name, fromAst(p.type, depth + 1))
      return { kind: "struct", fields }
    }
    case "Union": {
      const members = ast.types.map((t) => fromAst(t, depth + 1)).filter((s) => s.kind !== "null")
      if (members.length === 0) return { kind: "null" }
      const kinds = new Set(members.map((m) => m.kind))
      if (kinds.size === 1 && !kinds.has("list") && !kinds.has("struct")) return members[0]!
      if (kinds.size === 2 && kinds.has("int") && kinds.has("double")) return { kind: "double" }
      return members.length === 1 ? members[0]! : { kind: "json" }
    }
    default: return { kind: "json" }
  }
}

// ---- Parquet schema and values -----------------------------------------------------------

/** The Parquet schema (flattened, root first) of the columns. */
export const schemaElements = (columns: ReadonlyMap<string, Shape>): Array<SchemaElement> => [
  { name: "root", num_children: columns.size },
  ...[...columns].flatMap(([name, shape]) => elements(name, shape))
]

const elements = (name: string, shape: Shape): Array<SchemaElement> => {
  const repetition_type = "OPTIONAL" as const
  switch (shape.kind) {
    case "null": case "string": return [{ name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type }]
    case "boolean": return [{ name, type: "BOOLEAN", repetition_type }]
    case "int": return [{ name, type: "INT64", repetition_type }]
    case "double": return [{ name, type: "DOUBLE", repetition_type }]
    case "bytes": return [{ name, type: "BYTE_ARRAY", repetition_type }]
    case "timestamp": return [{ name, type: "INT64", converted_type: "TIMESTAMP_MILLIS", repetition_type }]
    case "json": return [{ name, type: "BYTE_ARRAY", converted_type: "JSON", repetition_type }]
    case "list": return [
      { name, repetition_type, converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      ...elements("element", shape.element)
    ]
    case "struct": return [{ name, repetition_type, num_children: shape.fields.size }, ...[...shape.fields].flatMap(([k, s]) => elements(k, s))]
  }
}

/** Converts a value of a column to what the Parquet writer takes, checking it against the column's shape. */
export type ValueEncoder = (v: unknown, rowNumber: number) => unknown

/**
 * The encoder of a column (built once per file): integers become bigints, structs get
 * every field (missing ones null), lists are encoded element by element. A value that does
 * not fit the shape (only possible with explicit schemas) is a data error naming the column
 * and row.
 */
export const encoder = (shape: Shape, path: string, file: string): ValueEncoder => {
  const wrong = (v: unknown, rowNumber: number): never => {
    throw dataError(`Cannot write row ${rowNumber} to ${file}: column "${path}" expects ${typeName[shape.kind]} but got ${describe(v)} ${preview(v)}`, { file })
  }
  switch (shape.kind) {
    case "null": return (v, n) => (v === null || v === undefined ? null : wrong(v, n))
    case "boolean": return (v, n) => (v === null || v === undefined ? null : typeof v === "boolean" ? v : wrong(v, n))
    case "int": return (v, n) =>
      v === null || v === undefined ? null : typeof v === "bigint" ? v : typeof v === "number" && Number.isInteger(v) && Math.abs(v) < INT64_LIMIT ? BigInt(v) : wrong(v, n)
    case "double": return (v, n) =>
      v === null || v === undefined ? null : typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : wrong(v, n)
    case "string": return (v, n) => (v === null || v === undefined ? null : typeof v === "string" ? v : wrong(v, n))
    case "bytes": return (v, n) => (v === null || v === undefined ? null : v instanceof Uint8Array ? v : wrong(v, n))
    case "timestamp": return (v, n) => (v === null || v === undefined ? null : v instanceof Date ? v : wrong(v, n))
    case "json": return (v) => (v === undefined ? null : v)
    case "list": {
      const element = encoder(shape.element, `${path}[]`, file)
      return (v, n) => {
        if (v === null || v === undefined) return null
        if (!Array.isArray(v)) return wrong(v, n)
        const out = new Array<unknown>(v.length)
        for (let i = 0; i < v.length; i++) out[i] = element(v[i], n)
        return out
      }
    }
    case "struct": {
      const fields = [...shape.fields].map(([k, s]) => [k, encoder(s, `${path}.${k}`, file)] as const)
      return (v, n) => {
        if (v === null || v === undefined) return null
        if (typeof v !== "object" || Array.isArray(v) || v instanceof Uint8Array || v instanceof Date) return wrong(v, n)
        const out: Record<string, unknown> = {}
        for (const [k, encode] of fields) out[k] = encode((v as Record<string, unknown>)[k], n)
        return out
      }
    }
  }
}
