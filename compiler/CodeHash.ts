import * as fs from "node:fs"
import * as path from "node:path"
import jsTokens from "js-tokens"
import type * as SourceLocation from "../plan/SourceLocation.ts"
import * as Digest from "../plan/Digest.ts"

/**
 * Hashes of the code behind a pipeline, read from the TypeScript source and not from the
 * loaded functions: tsx, vite and esbuild print the same function differently, but they all
 * read the same file. Comments and formatting are dropped (whitespace, line breaks, `;`,
 * trailing commas, quote style, parentheses around a lone arrow parameter), so reformatting
 * keeps a hash and any change to the code changes it.
 *
 * - `ofCall`, one DSL call (the plan fingerprint): from the call's recorded location it takes
 *   the call's argument list (inline functions, options objects), then every declaration an
 *   identifier in it names (in an enclosing scope of the same file, or exported by a local
 *   file the module imports by relative path), transitively.
 * - `ofStages`, the code each stage depends on (the stage fingerprints, which resume
 *   compares): every token of the pipeline's local files except the code that only other
 *   stages run. That leaves in what a stage's functions read without naming it: a `let`
 *   reassigned by the builder, a table filled by a loop when the module loads, the arguments
 *   a helper that builds part of the pipeline was called with, a file imported for its side
 *   effects.
 *
 * A tokenizer, not the TypeScript compiler: every worker computes these while it starts,
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
  /** The local files it imports (`import`, `export … from`, `import()`, `require()` with a relative path). */
  readonly dependencies: ReadonlyArray<string>
  /** 1 for the tokens of import and export lists (`import { a } from …`, `export { a }`): names there are not uses. */
  readonly lists: Uint8Array
}

const opening = new Set(["(", "[", "{"])
const closing = new Set([")", "]", "}"])

// A statement starts with one of these when it is first on its line (or after `;`); a
// declaration's code ends where the next statement of its block starts.
const statementStarts = new Set([
  "const", "let", "var", "function", "class", "async", "export", "import", "type", "interface", "enum", "declare",
  "abstract", "namespace", "if", "for", "while", "do", "try", "switch", "return", "throw", "break", "continue", "@"
])

/** Files read as code; any other file a module imports is data. */
const code = /\.(?:[cm]?[jt]sx?|json)$/

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
  // Data a module imports (a text file, say) is one token: its whitespace is data too.
  if (!code.test(file)) {
    const raw: Parsed = { file, text, tokens: text === "" ? [] : [{ value: text, type: "Raw", line: 1, column: 1, lineStart: true }], match: text === "" ? [] : [-1], declarations: new Map(), imports: new Map(), dependencies: [], lists: new Uint8Array(text === "" ? 0 : 1) }
    files.set(file, raw)
    return raw
  }
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
  const parsed: Parsed = { file, text, tokens, match, declarations: declarationsOf(tokens, match), imports: importsOf(file, tokens), dependencies: dependenciesOf(file, tokens), lists: listsOf(tokens, match) }
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

/** The local files `file` imports: by `import`, `export … from`, `import("…")` and `require("…")`, with a relative path. */
const dependenciesOf = (file: string, tokens: ReadonlyArray<Token>): Array<string> => {
  const out = new Set<string>()
  tokens.forEach((t, i) => {
    if (t.type !== "StringLiteral") return
    const before = tokens[i - 1]?.value
    const called = before === "(" && (tokens[i - 2]?.value === "import" || tokens[i - 2]?.value === "require") && tokens[i + 1]?.value === ")"
    if (before !== "from" && !(before === "import" && isStatementStart(tokens, i - 1)) && !called) return
    const specifier = t.value.slice(1, -1)
    const target = relative.test(specifier) ? resolveFile(file, specifier) : undefined
    if (target !== undefined) out.add(target)
  })
  return [...out]
}

/** Marks the tokens of `import … from "…"`, `export … from "…"` and `export { … }`. */
const listsOf = (tokens: ReadonlyArray<Token>, match: ReadonlyArray<number>): Uint8Array => {
  const out = new Uint8Array(tokens.length)
  for (let i = 0; i < tokens.length; i++) {
    const word = tokens[i]!.value
    if ((word !== "import" && word !== "export") || !isStatementStart(tokens, i)) continue
    let j = i + 1
    if (tokens[j]?.value === "type") j++
    if (word === "export" && tokens[j]?.value !== "{" && tokens[j]?.value !== "*") continue
    if (word === "export" && tokens[j]?.value === "{" && match[j]! > j && tokens[match[j]! + 1]?.value !== "from") {
      out.fill(1, i, match[j]! + 1)
      continue
    }
    while (j < tokens.length && tokens[j]!.value !== "from" && tokens[j]!.type !== "StringLiteral" && !(tokens[j]!.lineStart && isStatementStart(tokens, j))) j++
    if (tokens[j]?.value === "from") out.fill(1, i, j + 2)
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


interface Range {
  readonly parsed: Parsed
  readonly start: number
  /** Exclusive. */
  readonly end: number
}

const keyOf = (r: Range): string => `${r.parsed.file}\0${r.start}\0${r.end}`

/** An identifier that names a binding: not a property (`a.b`, `a?.b`). */
const isReference = (tokens: ReadonlyArray<Token>, k: number): boolean => {
  if (tokens[k]!.type !== "IdentifierName") return false
  const before = tokens[k - 1]?.value
  return before !== "." && before !== "?."
}

/** The files and name resolutions of one hash: each file is read once, so a hash sees one version of every file. */
interface Session {
  readonly load: (file: string) => Parsed | null
  /** The declarations the identifier at token `k` names (none for a parameter, a global or a package's export). */
  readonly targets: (parsed: Parsed, k: number) => ReadonlyArray<Range>
}

const makeSession = (): Session => {
  const loaded = new Map<string, Parsed | null>()
  const resolved = new Map<Parsed, Map<number, ReadonlyArray<Range>>>()
  const load = (file: string): Parsed | null => {
    if (!loaded.has(file)) loaded.set(file, parse(file))
    return loaded.get(file)!
  }
  /** The code of `name` as `file` exports it; the whole file when that cannot be told. */
  const exported = (file: string, name: string | undefined, seen: Set<string>): ReadonlyArray<Range> => {
    const parsed = load(file)
    if (parsed === null) return []
    const declared = name === undefined ? undefined : parsed.declarations.get(name)?.filter((d) => d.scope === -1)
    if (declared && declared.length > 0) return declared.map((d) => ({ parsed, start: d.start, end: d.end }))
    const imported = name === undefined ? undefined : parsed.imports.get(name)
    const key = `${file}\0${name}`
    if (imported && !seen.has(key)) {
      seen.add(key)
      return exported(imported.file, imported.name === "*" ? undefined : imported.name, seen)
    }
    return [{ parsed, start: 0, end: parsed.tokens.length }]
  }
  const targets = (parsed: Parsed, k: number): ReadonlyArray<Range> => {
    let cache = resolved.get(parsed)
    if (cache === undefined) resolved.set(parsed, (cache = new Map()))
    const cached = cache.get(k)
    if (cached !== undefined) return cached
    const { tokens, match } = parsed
    const name = tokens[k]!.value
    // The innermost declaration whose block encloses the reference.
    const inScope = (parsed.declarations.get(name) ?? []).filter((d) => d.scope === -1 || (d.scope < k && k < match[d.scope]!))
    const innermost = inScope.reduce<number>((best, d) => Math.max(best, d.scope), -2)
    const found = inScope.filter((d) => d.scope === innermost)
    let out: ReadonlyArray<Range> = found.map((d) => ({ parsed, start: d.start, end: d.end }))
    if (found.length === 0) {
      const imported = parsed.imports.get(name)
      const member = tokens[k + 1]?.value === "." && tokens[k + 2]?.type === "IdentifierName" ? tokens[k + 2]!.value : undefined
      out = imported ? exported(imported.file, imported.name === "*" ? member : imported.name, new Set()) : []
    }
    cache.set(k, out)
    return out
  }
  return { load, targets }
}

/** The argument list of a call whose callee ends at token `i` (`f`, `x.map`): the tokens between its parentheses. */
const argumentsAt = (parsed: Parsed, i: number): readonly [number, number] | undefined => {
  const { tokens, match } = parsed
  // Skip type arguments (`map<Row>(…)`).
  let j = i + 1
  if (tokens[j]?.value === "<") {
    let depth = 0
    for (; j < tokens.length; j++) {
      if (tokens[j]!.value === "<") depth++
      else if (tokens[j]!.value === ">") depth--
      else if (tokens[j]!.value === ">>") depth -= 2
      if (depth <= 0) break
    }
    j++
  }
  if (tokens[j]?.value !== "(" || match[j]! < j) return undefined
  return [j + 1, match[j]!]
}

/** The call recorded at `loc` (V8 records a call at its callee's name): that token and the call's argument list. */
const callAt = (parsed: Parsed, loc: SourceLocation.SourceLocation): { readonly at: number; readonly start: number; readonly end: number } | undefined => {
  const { tokens } = parsed
  const at = tokens.findIndex((t) => t.line > loc.line || (t.line === loc.line && t.column >= loc.column))
  if (at === -1 || tokens[at]!.line !== loc.line) return undefined
  const args = argumentsAt(parsed, at)
  return args === undefined ? undefined : { at, start: args[0], end: args[1] }
}

/** The arguments of an argument list, by position: [start, end) of each. */
const splitArguments = (parsed: Parsed, start: number, end: number): Array<readonly [number, number]> => {
  const out: Array<readonly [number, number]> = []
  let from = start
  for (let k = start; k < end; k++) {
    const t = parsed.tokens[k]!
    if (opens(t) && parsed.match[k]! > k) {
      k = parsed.match[k]!
      continue
    }
    if (t.type === "Punctuator" && t.value === ",") {
      out.push([from, k])
      from = k + 1
    }
  }
  if (from < end) out.push([from, end])
  return out
}

const textHash = (fallback: unknown): string => `text:${Digest.digest(fallback)}`

/**
 * The code hash of the DSL call at `loc`, whose user code is `fallback` (the functions and
 * values the call was given). When the source cannot be read (a dataset built in a REPL or
 * by `eval`) or the call is not found where it was recorded, the hash falls back to the
 * functions' printed text, which is stable for one loader but not across loaders.
 */
export const ofCall = (loc: SourceLocation.SourceLocation, file: string | undefined, fallback: unknown): string => {
  const session = makeSession()
  const parsed = file === undefined ? null : session.load(file)
  const call = parsed === null ? undefined : callAt(parsed, loc)
  if (parsed === null || call === undefined) return textHash(fallback)
  const visited = new Set<string>()
  const parts: Array<string> = [normalised(parsed.tokens, call.start, call.end)]
  const include = (r: Range): void => {
    const key = keyOf(r)
    if (visited.has(key)) return
    visited.add(key)
    parts.push(normalised(r.parsed.tokens, r.start, r.end))
    follow(r)
  }
  const follow = (r: Range): void => {
    for (let k = r.start; k < r.end; k++) if (isReference(r.parsed.tokens, k)) for (const t of session.targets(r.parsed, k)) include(t)
  }
  follow({ parsed, start: call.start, end: call.end })
  return `ts:${Digest.sha256(parts.join("\n")).slice(0, 16)}`
}

// ---- stages ----------------------------------------------------------------------------

/** A function of a file: its code, and the names callers call it by (none for an anonymous one). */
interface FunctionInfo {
  readonly start: number
  /** Exclusive. */
  readonly end: number
  readonly names: ReadonlyArray<string>
  /** The name's token in the function's own definition, which is not a call of it; -1 without one. */
  readonly nameToken: number
}

const anonymous = { names: [], nameToken: -1 } as const

// `word (…) {` is a block, not a method, after these.
const notMethods = new Set(["if", "for", "while", "switch", "catch", "with", "function", "return", "typeof", "await", "new", "void", "delete", "in", "of", "instanceof", "yield", "case", "throw", "else", "do", "super", "import"])
// `{` after these starts a type, not a function body.
const beforeType = new Set([":", "|", "&", ",", "<", "(", "=>", "?", "keyof", "typeof", "readonly"])

/** The `{` of the body of a function whose parameter list closes at `close`, after an optional return type; undefined for a signature. */
const bodyAfter = (tokens: ReadonlyArray<Token>, match: ReadonlyArray<number>, close: number): number | undefined => {
  let k = close + 1
  if (tokens[k]?.value === "{") return k
  if (tokens[k]?.value !== ":") return undefined
  for (k++; k < tokens.length && k < close + 64; k++) {
    const t = tokens[k]!
    if (t.value === "{" && !beforeType.has(tokens[k - 1]!.value)) return k
    if (opens(t) && match[k]! > k) k = match[k]!
    else if (t.value === ";" || closes(t)) return undefined
  }
  return undefined
}

/** The first token of an arrow function's parameters (`(` or the lone parameter), given its `=>`. */
const arrowParameters = (tokens: ReadonlyArray<Token>, match: ReadonlyArray<number>, arrow: number): number | undefined => {
  const before = tokens[arrow - 1]
  if (before === undefined) return undefined
  if (before.value === ")") return match[arrow - 1]! >= 0 ? match[arrow - 1]! : undefined
  if (before.type === "IdentifierName" && tokens[arrow - 2]?.value !== ":") return arrow - 1
  // A return type: `(…): Type =>`.
  for (let j = arrow - 1; j > 0 && j > arrow - 64; j--) {
    const t = tokens[j]!
    if (closes(t) && match[j]! >= 0 && match[j]! < j) {
      if (t.value === ")" && tokens[j + 1]?.value === ":") return match[j]!
      j = match[j]!
      continue
    }
    if (t.value === ";" || t.value === "=" || t.value === "," || opens(t)) return undefined
  }
  return undefined
}

/** The name a function defined at token `p` (its parameters, or `function`) is called by: `const f = …`, `f: …`, `export default …`. */
const nameBefore = (tokens: ReadonlyArray<Token>, match: ReadonlyArray<number>, p: number): Pick<FunctionInfo, "names" | "nameToken"> => {
  let q = p - 1
  if (tokens[q]?.value === ">") {
    // Type parameters: `<T>(x: T) => …`.
    for (let depth = 0; q >= 0; q--) {
      if (tokens[q]!.value === ">") depth++
      else if (tokens[q]!.value === "<" && --depth === 0) break
    }
    q--
  }
  if (tokens[q]?.value === "async") q--
  const t = tokens[q]
  if (t === undefined) return anonymous
  if (t.value === "=") {
    for (let j = q - 1; j >= 0 && j > q - 32; j--) {
      const w = tokens[j]!
      if (w.value === "const" || w.value === "let" || w.value === "var") return tokens[j + 1]?.type === "IdentifierName" ? { names: [tokens[j + 1]!.value], nameToken: j + 1 } : anonymous
      if (closes(w) && match[j]! >= 0 && match[j]! < j) j = match[j]!
      else if (w.value === ";" || w.value === "," || opens(w) || w.lineStart) break
    }
    return tokens[q - 1]?.type === "IdentifierName" ? { names: [tokens[q - 1]!.value], nameToken: q - 1 } : anonymous
  }
  if (t.value === ":" && (tokens[q - 2]?.value === "{" || tokens[q - 2]?.value === ",")) {
    const key = tokens[q - 1]
    if (key?.type === "IdentifierName") return { names: [key.value], nameToken: q - 1 }
    if (key?.type === "StringLiteral") return { names: [key.value.slice(1, -1)], nameToken: q - 1 }
  }
  if (t.value === "default" && tokens[q - 1]?.value === "export") return { names: ["default"], nameToken: -1 }
  return anonymous
}

/** Where an arrow function's expression body starting at `from` ends: at a `,`, `;` or closing bracket of its level, or the next statement. */
const expressionEnd = (tokens: ReadonlyArray<Token>, match: ReadonlyArray<number>, from: number): number => {
  for (let k = from; k < tokens.length; k++) {
    const t = tokens[k]!
    if (opens(t) && match[k]! > k) {
      k = match[k]!
      continue
    }
    if (closes(t) || (t.type === "Punctuator" && (t.value === "," || t.value === ";"))) return k
    if (k > from && isStatementStart(tokens, k)) return k
  }
  return tokens.length
}

const functionsCache = new WeakMap<Parsed, ReadonlyArray<FunctionInfo>>()

/** The functions of a file: arrows, `function`s and methods. */
const functionsOf = (parsed: Parsed): ReadonlyArray<FunctionInfo> => {
  const cached = functionsCache.get(parsed)
  if (cached !== undefined) return cached
  const { tokens, match } = parsed
  const out: Array<FunctionInfo> = []
  tokens.forEach((t, i) => {
    if (t.type === "Punctuator" && t.value === "=>") {
      const params = arrowParameters(tokens, match, i)
      if (params === undefined) return
      const end = tokens[i + 1]?.value === "{" && match[i + 1]! > i + 1 ? match[i + 1]! + 1 : expressionEnd(tokens, match, i + 1)
      out.push({ start: params, end, ...nameBefore(tokens, match, params) })
    } else if (t.type === "IdentifierName" && t.value === "function" && tokens[i - 1]?.value !== ".") {
      let j = i + 1
      if (tokens[j]?.value === "*") j++
      const outer = nameBefore(tokens, match, i)
      let named: Pick<FunctionInfo, "names" | "nameToken"> = outer
      if (tokens[j]?.type === "IdentifierName") {
        named = { names: [tokens[j]!.value, ...outer.names], nameToken: j }
        j++
      }
      if (tokens[j]?.value !== "(" || match[j]! < j) return
      const body = bodyAfter(tokens, match, match[j]!)
      if (body !== undefined) out.push({ start: i, end: match[body]! + 1, ...named })
    } else if (t.type === "Punctuator" && t.value === "(" && match[i]! > i) {
      // A method: `name(…) { … }`.
      const name = tokens[i - 1]
      if (name?.type !== "IdentifierName" || notMethods.has(name.value) || tokens[i - 2]?.value === "function" || tokens[i - 2]?.value === "." || tokens[i - 2]?.value === "?.") return
      const body = bodyAfter(tokens, match, match[i]!)
      if (body !== undefined) out.push({ start: i - 1, end: match[body]! + 1, names: [name.value], nameToken: i - 1 })
    }
  })
  functionsCache.set(parsed, out)
  return out
}

interface Site {
  readonly parsed: Parsed
  /** The callee's token. */
  readonly at: number
}

/** The argument lists of every call of `fn` (defined in `parsed`) in the files of `universe`: by its name there, or by what other files import it as. */
const callsOf = (parsed: Parsed, fn: FunctionInfo, universe: ReadonlyArray<Parsed>): Array<Site & { readonly args: Range }> => {
  const out: Array<Site & { readonly args: Range }> = []
  for (const p of universe) {
    const names = new Set<string>(p === parsed ? fn.names.filter((n) => n !== "default") : [])
    const members = new Set<string>()
    for (const [local, imported] of p.imports) {
      if (imported.file !== parsed.file) continue
      if (imported.name === "*") for (const n of fn.names) members.add(n)
      else if (fn.names.includes(imported.name)) names.add(local)
    }
    if (names.size === 0 && members.size === 0) continue
    p.tokens.forEach((t, k) => {
      if (t.type !== "IdentifierName" || (p === parsed && k === fn.nameToken)) return
      const before = p.tokens[k - 1]?.value
      if (!names.has(t.value) && !(members.has(t.value) && (before === "." || before === "?."))) return
      const args = argumentsAt(p, k)
      if (args !== undefined) out.push({ parsed: p, at: k, args: { parsed: p, start: args[0], end: args[1] } })
    })
  }
  return out
}

/** The local files of a pipeline: `roots` and every local file they import, transitively, in path order. */
const universeOf = (session: Session, roots: Iterable<string>): Array<Parsed> => {
  const seen = new Set<string>()
  const out: Array<Parsed> = []
  const pending = [...roots]
  while (pending.length > 0) {
    const file = pending.pop()!
    if (seen.has(file)) continue
    seen.add(file)
    const parsed = session.load(file)
    if (parsed === null) continue
    out.push(parsed)
    pending.push(...parsed.dependencies)
  }
  return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0))
}

interface Reached {
  /** The code a stage runs: its calls' arguments and what they name, transitively. */
  readonly ranges: ReadonlyMap<string, Range>
  /** The starts of anonymous functions that build part of the stage: their callers are not known. */
  readonly anchors: ReadonlyArray<Site>
}

/**
 * The code a stage's calls reach: their arguments, the declarations these name,
 * transitively, and the arguments of every call of a function that encloses one of its DSL
 * calls (a helper that builds part of the pipeline: its parameters are the stage's values too).
 */
const reach = (session: Session, universe: ReadonlyArray<Parsed>, seeds: ReadonlyArray<Range>, calls: ReadonlyArray<Site>): Reached => {
  const ranges = new Map<string, Range>()
  const anchors: Array<Site> = []
  const pending = [...seeds]
  const sites = [...calls]
  const enclosing = new Set<FunctionInfo>()
  while (pending.length > 0 || sites.length > 0) {
    const r = pending.pop()
    if (r !== undefined) {
      const key = keyOf(r)
      if (ranges.has(key)) continue
      ranges.set(key, r)
      for (let k = r.start; k < r.end; k++) if (isReference(r.parsed.tokens, k)) pending.push(...session.targets(r.parsed, k))
      continue
    }
    const site = sites.pop()!
    for (const fn of functionsOf(site.parsed)) {
      if (fn.start > site.at || site.at >= fn.end || enclosing.has(fn)) continue
      enclosing.add(fn)
      if (fn.names.length === 0) anchors.push({ parsed: site.parsed, at: fn.start })
      for (const call of callsOf(site.parsed, fn, universe)) {
        pending.push(call.args)
        sites.push(call)
      }
    }
  }
  return { ranges, anchors }
}

/** The normalised text of the tokens of `parsed` that `mask` leaves in (0), a gap marked where code was left out. */
const unmasked = (parsed: Parsed, mask: Uint8Array): string => {
  const runs: Array<string> = []
  for (let k = 0; k < mask.length;) {
    if (mask[k] === 1) {
      k++
      continue
    }
    let end = k
    while (end < mask.length && mask[end] === 0) end++
    runs.push(normalised(parsed.tokens, k, end))
    k = end
  }
  return runs.join(" \u2026 ")
}

/**
 * The code stage `s` depends on: every token of the pipeline's files except the code only
 * other stages reach, and except nothing that the code left in names (a declaration both a
 * left-out function and the builder read stays in).
 */
const stageText = (session: Session, universe: ReadonlyArray<Parsed>, reached: ReadonlyArray<Reached>, s: number): string => {
  const own = reached[s]!.ranges
  const others = new Map<string, Range>()
  reached.forEach((r, t) => {
    if (t !== s) for (const [key, range] of r.ranges) if (!own.has(key)) others.set(key, range)
  })
  // An anonymous function building this stage inside another stage's code: that code stays in.
  for (const a of reached[s]!.anchors) {
    for (const [key, r] of others) if (r.parsed === a.parsed && r.start <= a.at && a.at < r.end) others.delete(key)
  }
  const masks = new Map(universe.map((p) => [p, new Uint8Array(p.tokens.length)] as const))
  for (const r of others.values()) masks.get(r.parsed)?.fill(1, r.start, r.end)
  for (const r of own.values()) masks.get(r.parsed)?.fill(0, r.start, r.end)
  const pending: Array<readonly [Parsed, number]> = []
  for (const [p, mask] of masks) for (let k = 0; k < mask.length; k++) if (mask[k] === 0 && p.lists[k] === 0 && isReference(p.tokens, k)) pending.push([p, k])
  while (pending.length > 0) {
    const [p, k] = pending.pop()!
    for (const t of session.targets(p, k)) {
      if (!others.delete(keyOf(t))) continue
      const mask = masks.get(t.parsed)
      if (mask === undefined) continue
      for (let j = t.start; j < t.end; j++) {
        if (mask[j] === 0) continue
        mask[j] = 0
        if (t.parsed.lists[j] === 0 && isReference(t.parsed.tokens, j)) pending.push([t.parsed, j])
      }
    }
  }
  return universe.map((p) => unmasked(p, masks.get(p)!)).join("\n\0\n")
}

/** A DSL call whose code runs in a stage. */
export interface Call {
  readonly loc: SourceLocation.SourceLocation
  /** The file the call was written in; undefined when it cannot be told. */
  readonly file: string | undefined
  /** Positions of the call's arguments that run in another stage (a groupBy's reducer does not run in its scatter stage). */
  readonly skip?: ReadonlyArray<number> | undefined
  /** The functions and values the call was given: hashed instead when the source cannot be read. */
  readonly fallback: unknown
}

/**
 * The code hash of each stage, given the DSL calls whose code runs in it: the normalised
 * tokens of the pipeline's local files (`files`, the files of the calls, and what they
 * import) minus the code that only other stages reach. A change to a function only one
 * stage runs changes that stage's hash alone; a change to anything else (a top-level
 * statement, the builder, a file imported for its side effects) changes every stage's.
 */
export const ofStages = (stages: ReadonlyArray<ReadonlyArray<Call>>, files: ReadonlyArray<string> = []): Array<string> => {
  const session = makeSession()
  const roots = new Set(files.map((f) => path.resolve(f)))
  const seeds = stages.map(() => [] as Array<Range>)
  const sites = stages.map(() => [] as Array<Site>)
  const fallbacks = stages.map(() => [] as Array<string>)
  stages.forEach((calls, s) => {
    for (const c of calls) {
      const parsed = c.file === undefined ? null : session.load(c.file)
      const call = parsed === null ? undefined : callAt(parsed, c.loc)
      if (parsed === null || call === undefined) {
        fallbacks[s]!.push(textHash(c.fallback))
        continue
      }
      roots.add(parsed.file)
      sites[s]!.push({ parsed, at: call.at })
      splitArguments(parsed, call.start, call.end).forEach(([start, end], i) => {
        if (!c.skip?.includes(i)) seeds[s]!.push({ parsed, start, end })
      })
    }
  })
  const universe = universeOf(session, roots)
  const reached = stages.map((_, s) => reach(session, universe, seeds[s]!, sites[s]!))
  return stages.map((_, s) => `ts:${Digest.sha256([stageText(session, universe, reached, s), ...fallbacks[s]!].join("\n\0\n")).slice(0, 16)}`)
}
