import { builtinModules, createRequire } from "node:module"
import * as fs from "node:fs"
import * as path from "node:path"
import { ts } from "ts-morph"
import * as PackageRoot from "../../runtime/PackageRoot.ts"
import { packageName } from "../PackageSpecifier.ts"
import * as IndexSubset from "./IndexSubset.ts"

/**
 * The TypeScript program the checks run on: the pipeline module and its local imports,
 * with "zephyr" typed by the engine's compact declarations (dist/types, emitted by the
 * build) instead of its sources, only the `@types` the module needs, and the user's own
 * tsconfig.json options.
 *
 * Two modes, for speed. In `fast` mode the packages the engine's declarations mention but
 * the module never imports (Effect's 300 declaration files, @effect/rpc, the fast-check
 * that Effect's declarations import) are replaced by small stand-ins, so they are never
 * parsed; a package's index of re-exports is narrowed to the names each file imports from it
 * (IndexSubset: Effect's 176 modules become the few a file names); and the default library
 * has no DOM (`libWithoutDom`). In `full` mode every package, index and library is real. A
 * module whose `fast` check finds a type error that may come from a stand-in (one that names
 * an Effect type), a subset (an export not found) or the DOM (a name not found) is checked
 * again in `full` mode, so that none causes an error of its own.
 */
export type Mode = "fast" | "full"

export interface ModuleProgram {
  readonly mode: Mode
  readonly program: ts.Program
  readonly checker: ts.TypeChecker
  readonly options: ts.CompilerOptions
  /** The module and the local files it imports (not packages, not the engine), by absolute path. */
  readonly localFiles: ReadonlyArray<ts.SourceFile>
  /** The tsconfig.json whose options apply, if any. */
  readonly tsconfig: string | undefined
  /** Packages the module's files import. */
  readonly packages: ReadonlySet<string>
  /** Whether any import got a stand-in. */
  readonly standIns: () => boolean
}

/** A type error that may come from a stand-in: one that names a type they replace. */
export const mayComeFromStandIns = (message: string): boolean => /\b(?:Effect|Layer|Schema|Context|Scope|Stream|Rpc\w*|Socket\w*)\b|~zephyr\//.test(message)

const declarations = path.join(PackageRoot.dist, "types")
const engineDeclarations = path.join(declarations, "index.d.ts")
const engineSources = ["dsl", "compiler", "rpc", "runtime", "cli"].map((d) => path.join(PackageRoot.root, d) + path.sep)
const engineEntries = new Set(["index.ts", "Zephyr.ts", "Pipeline.ts"].map((f) => path.join(PackageRoot.root, f)))

/** A file of the engine itself (its sources or its declarations), never the user's. */
export const isEngineFile = (file: string): boolean =>
  file.startsWith(declarations + path.sep) || engineEntries.has(file) || engineSources.some((d) => file.startsWith(d))

/** Stand-ins for the Effect types the engine's public declarations use (see `Mode`). */
const effectStandIns = path.join(declarations, "zephyr-effect-stand-ins.d.ts")
const effectStandInsText = `
export declare namespace Effect {
  interface Effect<out A, out E = never, out R = never> { readonly "~zephyr/Effect": { readonly A: A; readonly E: E; readonly R: R } }
}
export declare namespace Schema {
  interface Schema<in out A, in out I = A, out R = never> { readonly Type: A; readonly Encoded: I; readonly Context: R }
  namespace Schema {
    type Any = Schema<any, any, any>
    type AnyNoContext = Schema<any, any, never>
  }
}
export declare namespace Layer {
  interface Layer<in ROut, out E = never, out RIn = never> { readonly "~zephyr/Layer": { readonly ROut: (_: ROut) => void; readonly E: E; readonly RIn: RIn } }
}
`

/** Any other package gets an empty module: every name it exports is then `any`. */
const emptyStandIn = path.join(declarations, "zephyr-empty-stand-in.d.ts")
const emptyStandInText = "export {}\n"

const builtins = new Set(builtinModules)
export const isBuiltin = (specifier: string): boolean => {
  const name = specifier.startsWith("node:") ? specifier.slice(5) : specifier
  return builtins.has(name) || builtins.has(name.split("/")[0]!)
}

/** Node's globals: a module that names one needs @types/node to type-check. */
const nodeGlobals = new Set([
  "process", "Buffer", "__dirname", "__filename", "require", "module", "global", "setTimeout", "setInterval", "setImmediate",
  "clearTimeout", "clearInterval", "clearImmediate", "queueMicrotask", "console", "NodeJS", "structuredClone", "TextEncoder",
  "TextDecoder", "URL", "URLSearchParams", "fetch", "AbortController", "AbortSignal", "performance", "crypto", "atob", "btoa",
  "Blob", "Response", "Request", "Headers", "EventTarget", "Event", "MessageChannel", "BroadcastChannel", "WebAssembly"
])

/** Tokens after which an identifier names a type the file declares (`interface Event`): anywhere, a type does not hide a value. */
const declaringType = new Set([ts.SyntaxKind.InterfaceKeyword, ts.SyntaxKind.TypeKeyword, ts.SyntaxKind.ClassKeyword, ts.SyntaxKind.EnumKeyword])
/** Tokens after which an identifier names a value the file declares: only at the top level, where it hides the global everywhere. */
const declaringValue = new Set([ts.SyntaxKind.ConstKeyword, ts.SyntaxKind.LetKeyword, ts.SyntaxKind.VarKeyword, ts.SyntaxKind.FunctionKeyword, ts.SyntaxKind.NamespaceKeyword])
/** Tokens after which `name:` is a property (`{ process: string }`) or a label, not a use of `name`. */
const memberStart = new Set([ts.SyntaxKind.OpenBraceToken, ts.SyntaxKind.CommaToken, ts.SyntaxKind.SemicolonToken])

/**
 * Whether the code (comments and strings aside) names one of Node's globals: not as a
 * property (`e.process`, `{ process: 1 }`), and not one the module declares itself (a
 * pipeline's own `interface Event`, `import { URL } from "./url.ts"`), which would cost
 * parsing @types/node for nothing. When unsure it says yes: a module checked without Node's
 * types that needs them would get false type errors.
 */
export const namesNodeGlobal = (text: string): boolean => {
  const scanner = ts.createScanner(ts.ScriptTarget.Latest, true, ts.LanguageVariant.Standard, text)
  const used = new Set<string>()
  const declared = new Set<string>()
  // Open braces and template substitutions (`${`), so that a `}` ends the right one.
  const open: Array<"brace" | "template"> = []
  let previous = ts.SyntaxKind.Unknown
  let importing = false
  let pending: string | undefined
  for (let token = scanner.scan(); token !== ts.SyntaxKind.EndOfFileToken; token = scanner.scan()) {
    if (pending !== undefined) {
      // `name:` after `{`, `,` or `;` is a property name or a label.
      if (token !== ts.SyntaxKind.ColonToken) used.add(pending)
      pending = undefined
    }
    if (token === ts.SyntaxKind.OpenBraceToken) open.push("brace")
    else if (token === ts.SyntaxKind.TemplateHead) open.push("template")
    else if (token === ts.SyntaxKind.CloseBraceToken && open.pop() === "template") {
      if (scanner.reScanTemplateToken(false) === ts.SyntaxKind.TemplateMiddle) open.push("template")
    } else if (token === ts.SyntaxKind.ImportKeyword && open.length === 0) importing = true
    else if (importing && (token === ts.SyntaxKind.FromKeyword || token === ts.SyntaxKind.StringLiteral || token === ts.SyntaxKind.SemicolonToken)) importing = false
    else if (token === ts.SyntaxKind.Identifier) {
      const name = scanner.getTokenValue()
      if (nodeGlobals.has(name) && previous !== ts.SyntaxKind.DotToken && previous !== ts.SyntaxKind.QuestionDotToken) {
        if (importing || declaringType.has(previous) || (declaringValue.has(previous) && open.length === 0)) declared.add(name)
        else if (memberStart.has(previous)) pending = name
        else used.add(name)
      }
    }
    previous = token
  }
  if (pending !== undefined) used.add(pending)
  for (const name of used) if (!declared.has(name)) return true
  return false
}

const scriptExtensions = [".ts", ".tsx", ".mts", ".cts"]

/** The local file a relative specifier names, as the module loader would find it. */
const localTarget = (from: string, specifier: string): string | undefined => {
  const base = path.resolve(path.dirname(from), specifier)
  const candidates = [base, base.replace(/\.[cm]?js$/, (e) => e.replace("js", "ts")), ...scriptExtensions.map((e) => base + e), ...scriptExtensions.map((e) => path.join(base, "index" + e))]
  return candidates.find((c) => scriptExtensions.some((e) => c.endsWith(e)) && fs.existsSync(c) && fs.statSync(c).isFile())
}

/** What the module's files import and use, read with the scanner (no parse): decides the mode and the @types. */
export const survey = (entries: ReadonlyArray<string>): { readonly packages: ReadonlySet<string>; readonly usesNode: boolean } => {
  const seen = new Set<string>()
  const queue = [...entries]
  const packages = new Set<string>()
  let usesNode = false
  while (queue.length > 0 && seen.size < 500) {
    const file = queue.shift()!
    if (seen.has(file)) continue
    seen.add(file)
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch {
      continue
    }
    if (!usesNode && namesNodeGlobal(text)) usesNode = true
    for (const imported of ts.preProcessFile(text, true, true).importedFiles) {
      const specifier = imported.fileName
      if (isBuiltin(specifier)) usesNode = true
      else if (specifier.startsWith(".")) {
        const target = localTarget(file, specifier)
        if (target) queue.push(target)
      } else if (!specifier.startsWith("/")) packages.add(packageName(specifier))
    }
  }
  return { packages, usesNode }
}

/**
 * The compiler's lib files (lib.es2022.d.ts, ...): ts-morph's copies, the ones its bundled
 * compiler uses (it has none on disk), under the same in-memory directory as in a ts-morph
 * project.
 */
const libFiles = (): LibFiles => {
  if (loadedLibFiles === undefined) {
    const fromTsMorph = createRequire(createRequire(import.meta.url).resolve("ts-morph"))
    const common = fromTsMorph("@ts-morph/common") as { getLibFiles(): ReadonlyArray<{ readonly fileName: string; readonly text: string }>; readonly libFolderInMemoryPath: string }
    const dir = common.libFolderInMemoryPath
    loadedLibFiles = { dir, files: new Map(common.getLibFiles().map((f) => [path.posix.join(dir, f.fileName), f.text])) }
  }
  return loadedLibFiles
}
interface LibFiles { readonly dir: string; readonly files: ReadonlyMap<string, string> }
let loadedLibFiles: LibFiles | undefined

const nearestTsconfig = (file: string): string | undefined => {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, "tsconfig.json")
    if (fs.existsSync(candidate)) return candidate
    if (path.dirname(dir) === dir) return undefined
  }
}

/** Options that concern emitting or project layout, meaningless (or harmful) for checking a few files. */
const dropped = ["composite", "incremental", "tsBuildInfoFile", "declaration", "declarationMap", "emitDeclarationOnly", "sourceMap", "inlineSourceMap", "outDir", "outFile", "rootDir", "rootDirs", "build", "noEmitOnError"] as const

/** The user's compiler options (from the tsconfig.json nearest to the module), for checking. */
const compilerOptions = (tsconfig: string | undefined): ts.CompilerOptions => {
  let options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true
  }
  if (tsconfig !== undefined) {
    const read = ts.readConfigFile(tsconfig, ts.sys.readFile)
    if (!read.error) {
      // Only the options: the files of the project are not the module's.
      const host: ts.ParseConfigHost = { ...ts.sys, readDirectory: () => [] }
      options = ts.parseJsonConfigFileContent({ ...read.config, include: [], files: [] }, host, path.dirname(tsconfig), undefined, tsconfig).options
    }
  }
  const out: ts.CompilerOptions = { ...options }
  for (const key of dropped) delete out[key]
  return { ...out, noEmit: true, skipLibCheck: true, allowImportingTsExtensions: true }
}

/**
 * Without a `lib` of the user's, the target's default library includes the browser's DOM:
 * lib.dom.d.ts, 1.6 MB, a third of what a module importing only "zephyr" parses (`zephyr
 * check` of an edited module in a project without a tsconfig.json: 0.83-0.85 s, 0.60-0.62 s
 * without it). A pipeline runs on Node, whose globals come from @types/node when the module
 * names one (`survey`). So `fast` mode leaves the DOM out: the same library for the same
 * target, without it. A module that needs it after all gets "Cannot find name"
 * (`mayComeFromLibs`), and is checked again in `full` mode.
 */
const libWithoutDom = (options: ts.CompilerOptions): string | undefined => {
  if (options.lib !== undefined || options.noLib === true) return undefined
  const full = ts.getDefaultLibFileName(options)
  return full === "lib.d.ts" ? "lib.es5.d.ts" : full.endsWith(".full.d.ts") ? full.slice(0, -".full.d.ts".length) + ".d.ts" : undefined
}

/**
 * A type error that may come from a library `fast` mode left out (`libWithoutDom`): a name,
 * namespace or global type not found, or a property of `globalThis`.
 */
export const mayComeFromLibs = (message: string): boolean => /^TS(?:2304|2318|2503|2552|2580|2581|2582|2583|2584|2591|2592|2593):|\bglobalThis\b/.test(message)

/** A type error that may come from a package index's subset (IndexSubset): a module's export not found. */
export const mayComeFromSubsets = (message: string): boolean => /^TS(?:2305|2614|2724):/.test(message)

/** Builds the program for `entries` (absolute paths of pipeline modules). */
export const make = (entries: ReadonlyArray<string>, mode: Mode): ModuleProgram => {
  const tsconfig = nearestTsconfig(entries[0]!)
  const base = compilerOptions(tsconfig)
  const { packages, usesNode } = survey(entries)
  const haveDeclarations = fs.existsSync(engineDeclarations)
  const withoutDom = mode === "fast" ? libWithoutDom(base) : undefined
  const options: ts.CompilerOptions = mode === "fast" ? { ...base, types: usesNode ? ["node"] : [], ...(withoutDom ? { lib: [withoutDom] } : {}) } : base
  // Whether anything stood in for the real thing: the library without the DOM, a subset of an
  // index, or a stand-in package.
  let usedStandIns = withoutDom !== undefined
  // Which packages, imported from where, get a stand-in (fast mode only): those the engine's
  // declarations import and the module does not, and the fast-check of Effect's declarations.
  const standIn = (name: string, containingFile: string): string | undefined => {
    if (mode !== "fast" || name.startsWith(".") || packages.has(packageName(name))) return undefined
    const replacement = containingFile.startsWith(declarations + path.sep)
      ? (packageName(name) === "effect" ? effectStandIns : emptyStandIn)
      : packageName(name) === "fast-check" && containingFile.includes(`${path.sep}node_modules${path.sep}effect${path.sep}`) ? emptyStandIn : undefined
    if (replacement !== undefined) usedStandIns = true
    return replacement
  }
  // One resolution cache for the program: without it every import re-reads and re-parses the
  // package.json files on its way (Effect's, with its large exports map, over a thousand times).
  // The program reads it too (`getModuleResolutionCache`), for each file's module format: else
  // it parsed Effect's package.json again for each of its 176 declaration files (50 ms of
  // `tokenize`'s check).
  const cache = ts.createModuleResolutionCache(process.cwd(), (f) => (ts.sys.useCaseSensitiveFileNames ? f : f.toLowerCase()), options)
  const host = ts.createCompilerHost(options, true)
  host.getModuleResolutionCache = () => cache
  // No JSDoc in TypeScript files, where it carries no types (JavaScript files keep theirs):
  // Effect's declarations are mostly JSDoc (their examples), and parsing it cost 0.45 s of
  // `tokenize`'s 3.5 s check. No check reads a comment.
  host.jsDocParsingMode = ts.JSDocParsingMode.ParseForTypeInfo
  const libs = libFiles()
  const memory = new Map(libs.files)
  if (mode === "fast") {
    memory.set(effectStandIns, effectStandInsText)
    memory.set(emptyStandIn, emptyStandInText)
  }
  const { getSourceFile, fileExists, readFile, directoryExists } = host
  host.getDefaultLibLocation = () => libs.dir
  host.getDefaultLibFileName = (o) => path.posix.join(libs.dir, ts.getDefaultLibFileName(o))
  host.fileExists = (f) => memory.has(f) || fileExists.call(host, f)
  host.readFile = (f) => memory.get(f) ?? readFile.call(host, f)
  host.directoryExists = (d) => d === libs.dir || directoryExists?.call(host, d) === true
  host.getSourceFile = (f, languageVersionOrOptions, onError, shouldCreate) => {
    const text = memory.get(f)
    return text !== undefined ? ts.createSourceFile(f, text, languageVersionOrOptions, true) : getSourceFile.call(host, f, languageVersionOrOptions, onError, shouldCreate)
  }
  host.resolveModuleNames = (names, containingFile, _reused, redirected, opts, containingSourceFile) => {
    return names.map((name) => {
      const replacement = standIn(name, containingFile)
      if (replacement !== undefined) return { resolvedFileName: replacement, extension: ts.Extension.Dts, isExternalLibraryImport: false }
      const format = containingSourceFile?.impliedNodeFormat
      const resolved = ts.resolveModuleName(name, containingFile, opts, host, cache, redirected, format).resolvedModule
      // "zephyr" (from anywhere) is typed by the engine's declarations, not its sources.
      if (resolved && haveDeclarations && resolved.resolvedFileName === path.join(PackageRoot.root, "index.ts")) {
        return { resolvedFileName: engineDeclarations, extension: ts.Extension.Dts, isExternalLibraryImport: false }
      }
      // A package's index of re-exports, narrowed to the names this file imports (IndexSubset).
      if (mode === "fast" && resolved?.isExternalLibraryImport === true && containingSourceFile !== undefined && name === packageName(name)) {
        const names = IndexSubset.namedImports(containingSourceFile, name)
        const subset = names === undefined ? undefined : IndexSubset.make(resolved.resolvedFileName, names)
        if (subset !== undefined) {
          memory.set(subset.file, subset.text)
          usedStandIns = true
          // No packageId: files of one package id would be taken for one file.
          return { resolvedFileName: subset.file, extension: resolved.extension, isExternalLibraryImport: true }
        }
      }
      return resolved
    })
  }
  const program = ts.createProgram({ rootNames: [...entries], options, host })
  const checker = program.getTypeChecker()
  const localFiles = program.getSourceFiles().filter((sf) =>
    !sf.isDeclarationFile && !program.isSourceFileFromExternalLibrary(sf) && !program.isSourceFileDefaultLibrary(sf) &&
    !sf.fileName.includes(`${path.sep}node_modules${path.sep}`) && !isEngineFile(sf.fileName)
  )
  return { mode, program, checker, options, localFiles, tsconfig, packages, standIns: () => usedStandIns }
}
