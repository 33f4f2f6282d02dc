import * as fs from "node:fs"
import * as path from "node:path"
import jsTokens from "js-tokens"
import type * as SourceLocation from "../plan/SourceLocation.ts"
import * as Digest from "../plan/Digest.ts"

/**
 * A hash of the code behind one DSL call, read from the TypeScript source and not from the
 * loaded functions: tsx, vite and esbuild print the same function differently, but they all
 * read the same file. From the call's recorded location it takes the call's argument list
 * (inline functions, options objects), then every declaration an identifier in it names
 * (in an enclosing scope of the same file, or exported by a local file the module imports
 * by relative path), transitively. Comments and formatting are dropped (whitespace, line
 * breaks, `;`, trailing commas, quote style, parentheses around a lone arrow parameter),
 * so reformatting keeps the hash and any change to the code changes it.
 *
 * A tokenizer, not the TypeScript compiler: every worker computes this while it starts,
 * and importing `typescript` alone costs more than the rest of a worker's start-up. Types
 * are just more tokens here. Name resolution is by scope only (no shadowing by parameters,
 * no hoisting order), so it may include more code than needed, never less.
 */

interface Token {
  readonly value: string
  readonly type: string
  readonly line: number
  readonly column: number
  /** First significant token on its line. */
  readonly lineStart: boolean
}

interface Declaration {
  readonly name: string
  readonly start: number
  /** Exclusive. */
  readonly end: number
  /** The open bracket of the enclosing scope; -1 at the top level. */
  readonly scope: number
}

interface Import {
  readonly file: string
  /** The imported name, `*` for a namespace, `default` for a default import. */
  readonly name: string
}

interface Parsed {
  readonly file: string
  readonly text: string
  readonly tokens: ReadonlyArray<Token>
  /** Index of the matching bracket, for every bracket token. */
  readonly match: ReadonlyArray<number>
  readonly declarations: ReadonlyMap<string, ReadonlyArray<Declaration>>
  readonly imports: ReadonlyMap<string, Import>
}

const opening = new Set(["(", "[", "{"])
const closing = new Set([")", "]", "}"])

// A statement starts with one of these when it is first on its line (or after `;`); a
// declaration's code ends where the next statement of its block starts.
const statementStarts = new Set([
  "const", "let", "var", "function", "class", "async", "export", "import", "type", "interface", "enum", "declare",
  "abstract", "namespace", "if", "for", "while", "do", "try", "switch", "return", "throw", "break", "continue", "@"
])

/** Tokenized files of this process, keyed by path; re-read when the text changed. */
const files = new Map<string, Parsed | null>()

const parse = (file: string): Parsed | null => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch {
    files.set(file, null)
    return null
  }
  const cached = files.get(file)
  if (cached && cached.text === text) return cached
  const tokens: Array<Token> = []
  let line = 1
  let column = 1
  let newLine = true
  for (const t of jsTokens(text)) {
    if (t.type !== "WhiteSpace" && t.type !== "LineTerminatorSequence" && t.type !== "MultiLineComment" && t.type !== "SingleLineComment" && t.type !== "HashbangComment") {
      tokens.push({ value: t.value, type: t.type, line, column, lineStart: newLine })
      newLine = false
    }
    const breaks = t.value.split(/\r\n|[\n\r\u2028\u2029]/)
    if (breaks.length > 1) {
      line += breaks.length - 1
      column = breaks[breaks.length - 1]!.length + 1
      if (t.type !== "StringLiteral" && !t.type.startsWith("Template") && t.type !== "NoSubstitutionTemplate") newLine = true
    } else column += t.value.length
  }
  const match = matchBrackets(tokens)
  const parsed: Parsed = { file, text, tokens, match, declarations: declarationsOf(tokens, match), imports: importsOf(file, tokens) }
  files.set(file, parsed)
  return parsed
}

const opens = (t: Token) => (t.type === "Punctuator" && opening.has(t.value)) || t.type === "TemplateHead"
const closes = (t: Token) => (t.type === "Punctuator" && closing.has(t.value)) || t.type === "TemplateTail"

const matchBrackets = (tokens: ReadonlyArray<Token>): Array<number> => {
  const match = new Array<number>(tokens.length).fill(-1)
  const stack: Array<number> = []
  tokens.forEach((t, i) => {
    if (t.type === "TemplateMiddle") return
    if (closes(t)) {
      const open = stack.pop()
      if (open !== undefined) {
        match[open] = i
        match[i] = open
      }
    }
    if (opens(t)) stack.push(i)
  })
  return match
}

const isStatementStart = (tokens: ReadonlyArray<Token>, i: number): boolean => {
  const t = tokens[i]!
  return statementStarts.has(t.value) && (t.lineStart || tokens[i - 1]?.value === ";") && tokens[i - 1]?.value !== "."
}

const declarationsOf = (tokens: ReadonlyArray<Token>, match: ReadonlyArray<number>): Map<string, Array<Declaration>> => {
  const out = new Map<string, Array<Declaration>>()
  const scopes: Array<number> = [-1]
  const add = (name: string, start: number, end: number, scope: number) => {
    const list = out.get(name) ?? []
    list.push({ name, start, end, scope })
    out.set(name, list)
  }
  // The end of the statement starting at i: the next statement of the same block, or the block's end.
  const statementEnd = (i: number, scope: number): number => {
    const limit = scope === -1 ? tokens.length : match[scope]! === -1 ? tokens.length : match[scope]!
    for (let j = i + 1; j < limit; j++) {
      if (opens(tokens[j]!) && match[j]! > j) {
        j = match[j]!
        continue
      }
      if (isStatementStart(tokens, j)) return j
    }
    return limit
  }
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!
    if (closes(t)) scopes.pop()
    if (t.type === "TemplateMiddle") continue
    if (opens(t)) {
      scopes.push(i)
      continue
    }
    if (t.type !== "IdentifierName" || !isStatementStart(tokens, i)) continue
    const scope = scopes[scopes.length - 1]!
    let k = i
    const modifiers = new Set(["export", "declare", "async", "abstract"])
    while (modifiers.has(tokens[k]?.value ?? "")) k++
    const kind = tokens[k]?.value
    if (tokens[i]!.value === "export" && kind === "default") {
      add("default", i, statementEnd(i, scope), scope)
      k++
      while (modifiers.has(tokens[k]?.value ?? "")) k++
    }
    const word = tokens[k]?.value
    if (word === "const" || word === "let" || word === "var") {
      const first = tokens[k + 1]
      const end = statementEnd(i, scope)
      if (first?.type === "IdentifierName") add(first.value, i, end, scope)
      else if (first && opens(first)) {
        // A destructuring pattern: every name in it stands for the whole statement.
        for (let j = k + 2; j < match[k + 1]!; j++) if (tokens[j]!.type === "IdentifierName") add(tokens[j]!.value, i, end, scope)
      }
    } else if (word === "function" || word === "class" || word === "enum" || word === "namespace") {
      const name = tokens[k + 1]?.value === "*" ? tokens[k + 2] : tokens[k + 1]
      if (name?.type === "IdentifierName") add(name.value, i, statementEnd(i, scope), scope)
    }
  }
  return out
}

const relative = /^\.\.?(\/|$)/

const resolveFile = (from: string, specifier: string): string | undefined => {
  const base = path.resolve(path.dirname(from), specifier)
  const swapped = base.replace(/\.(m|c)?js(x?)$/, (_, m: string | undefined, x: string) => `.${m ?? ""}ts${x}`)
  const candidates = [base, swapped, ...[".ts", ".tsx", ".mts", ".cts", ".js", ".mjs"].map((e) => base + e), path.join(base, "index.ts"), path.join(base, "index.js")]
  return candidates.find((f) => {
    try {
      return fs.statSync(f).isFile()
    } catch {
      return false
    }
  })
}

/** `import … from "./x"` and `export { … } from "./x"`: local name → the file and the name it has there. */
const importsOf = (file: string, tokens: ReadonlyArray<Token>): Map<string, Import> => {
  const out = new Map<string, Import>()
  for (let i = 0; i < tokens.length; i++) {
    const word = tokens[i]!.value
    if ((word !== "import" && word !== "export") || !isStatementStart(tokens, i)) continue
    let j = i + 1
    while (j < tokens.length && tokens[j]!.value !== "from" && tokens[j]!.type !== "StringLiteral" && !(tokens[j]!.lineStart && j > i + 1 && isStatementStart(tokens, j))) j++
    if (tokens[j]?.value !== "from" || tokens[j + 1]?.type !== "StringLiteral") continue
    const specifier = tokens[j + 1]!.value.slice(1, -1)
    if (!relative.test(specifier)) continue
    const target = resolveFile(file, specifier)
    if (target === undefined) continue
    const clause = tokens.slice(i + 1, j).filter((t) => t.value !== "type")
    for (let c = 0; c < clause.length; c++) {
      const t = clause[c]!
      if (t.value === "*" && clause[c + 1]?.value === "as" && clause[c + 2]) {
        out.set(clause[c + 2]!.value, { file: target, name: "*" })
        c += 2
      } else if (t.value === "{") {
        for (c++; c < clause.length && clause[c]!.value !== "}"; c++) {
          const name = clause[c]!
          if (name.type !== "IdentifierName") continue
          const local = clause[c + 1]?.value === "as" && clause[c + 2] ? clause[c + 2]! : name
          out.set(local.value, { file: target, name: name.value })
          if (local !== name) c += 2
        }
      } else if (word === "import" && t.type === "IdentifierName" && c === 0) out.set(t.value, { file: target, name: "default" })
    }
  }
  return out
}

/** Normalised text of tokens [start, end): what formatting and comments leave unchanged. */
const normalised = (tokens: ReadonlyArray<Token>, start: number, end: number): string => {
  const out: Array<string> = []
  for (let i = start; i < end; i++) {
    const t = tokens[i]!
    if (t.value === ";") continue
    const next = tokens[i + 1]?.value
    if (t.value === "," && (next === ")" || next === "]" || next === "}")) continue
    // `(x) => …` and `x => …`
    if (t.value === "(" && tokens[i + 1]?.type === "IdentifierName" && tokens[i + 2]?.value === ")" && tokens[i + 3]?.value === "=>" && i + 3 < end) {
      out.push(tokens[i + 1]!.value)
      i += 2
      continue
    }
    out.push(t.type === "StringLiteral" ? stringValue(t.value) : t.value)
  }
  return out.join(" ")
}

// Quote style: 'a' and "a" are the same string (escapes kept as written).
const stringValue = (literal: string): string => (literal.includes("\\") ? literal : JSON.stringify(literal.slice(1, -1)))

type Part = { readonly code: string }

/** Walks identifiers of tokens [start, end) of `parsed`, adding the code of the declarations they name. */
const follow = (parsed: Parsed, start: number, end: number, visited: Set<string>, parts: Array<Part>): void => {
  const { tokens } = parsed
  for (let k = start; k < end; k++) {
    const t = tokens[k]!
    if (t.type !== "IdentifierName") continue
    const before = tokens[k - 1]?.value
    if (before === "." || before === "?.") continue
    const member = tokens[k + 1]?.value === "." && tokens[k + 2]?.type === "IdentifierName" ? tokens[k + 2]!.value : undefined
    resolve(parsed, t.value, k, member, visited, parts)
  }
}

const resolve = (parsed: Parsed, name: string, at: number, member: string | undefined, visited: Set<string>, parts: Array<Part>): void => {
  const { match } = parsed
  // The innermost declaration whose block encloses the reference.
  const inScope = (parsed.declarations.get(name) ?? []).filter((d) => d.scope === -1 || (d.scope < at && at < match[d.scope]!))
  const innermost = inScope.reduce<number>((best, d) => Math.max(best, d.scope), -2)
  const found = inScope.filter((d) => d.scope === innermost)
  if (found.length > 0) {
    for (const d of found) include(parsed, d.start, d.end, visited, parts)
    return
  }
  const imported = parsed.imports.get(name)
  if (imported) exported(imported.file, imported.name === "*" ? member : imported.name, visited, parts)
}

/** The code of `name` as file exports it; the whole file when that cannot be told. */
const exported = (file: string, name: string | undefined, visited: Set<string>, parts: Array<Part>): void => {
  const parsed = parse(file)
  if (parsed === null) return
  const declared = name === undefined ? undefined : parsed.declarations.get(name)?.filter((d) => d.scope === -1)
  if (declared && declared.length > 0) {
    for (const d of declared) include(parsed, d.start, d.end, visited, parts)
    return
  }
  const imported = name === undefined ? undefined : parsed.imports.get(name)
  if (imported) {
    exported(imported.file, imported.name === "*" ? undefined : imported.name, visited, parts)
    return
  }
  include(parsed, 0, parsed.tokens.length, visited, parts)
}

const include = (parsed: Parsed, start: number, end: number, visited: Set<string>, parts: Array<Part>): void => {
  const key = `${parsed.file}\0${start}\0${end}`
  if (visited.has(key)) return
  visited.add(key)
  parts.push({ code: normalised(parsed.tokens, start, end) })
  follow(parsed, start, end, visited, parts)
}

/** The argument list of the call recorded at `loc` (V8 records a call at its callee's name): the tokens between its parentheses. */
const callArguments = (parsed: Parsed, loc: SourceLocation.SourceLocation): readonly [number, number] | undefined => {
  const { tokens, match } = parsed
  const at = tokens.findIndex((t) => t.line > loc.line || (t.line === loc.line && t.column >= loc.column))
  if (at === -1 || tokens[at]!.line !== loc.line) return undefined
  // Skip type arguments (`map<Row>(…)`).
  let i = at + 1
  if (tokens[i]?.value === "<") {
    let depth = 0
    for (; i < tokens.length; i++) {
      if (tokens[i]!.value === "<") depth++
      else if (tokens[i]!.value === ">") depth--
      else if (tokens[i]!.value === ">>") depth -= 2
      if (depth <= 0) break
    }
    i++
  }
  if (tokens[i]?.value !== "(" || match[i]! < i) return undefined
  return [i + 1, match[i]!]
}

/**
 * The code hash of the DSL call at `loc`, whose user code is `fallback` (the functions and
 * values the call was given). When the source cannot be read (a dataset built in a REPL or
 * by `eval`) or the call is not found where it was recorded, the hash falls back to the
 * functions' printed text, which is stable for one loader but not across loaders.
 */
export const ofCall = (loc: SourceLocation.SourceLocation, file: string | undefined, fallback: unknown): string => {
  const parsed = file === undefined ? null : parse(file)
  const args = parsed === null ? undefined : callArguments(parsed, loc)
  if (parsed === null || args === undefined) return `text:${Digest.digest(fallback)}`
  const visited = new Set<string>()
  const parts: Array<Part> = [{ code: normalised(parsed.tokens, args[0], args[1]) }]
  follow(parsed, args[0], args[1], visited, parts)
  return `ts:${Digest.sha256(parts.map((p) => p.code).join("\n")).slice(0, 16)}`
}
