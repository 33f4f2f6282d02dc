import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { SourceLocation } from "../plan/SourceLocation.ts"
import * as TypeScriptImport from "../compiler/TypeScriptImport.ts"
import * as PackageRoot from "../runtime/PackageRoot.ts"

// Frames from the engine's own modules (sources or the bundle) are skipped: the location is the user's DSL call.
const root = PackageRoot.root
const internal = [path.join(root, "dsl") + path.sep, path.join(root, "compiler") + path.sep, path.join(root, "index.ts"), PackageRoot.dist + path.sep]

/** A file as explain and diagnostics show it: relative to the working directory when inside it. */
export const displayPath = (file: string): string => {
  const rel = path.relative(process.cwd(), file)
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel.split(path.sep).join("/") : file
}

/** The absolute path of each file a location this process captured names (locations show a path relative to the working directory). */
const absolute = new Map<string, string>()

/**
 * The file a captured location names, as an absolute path. A location captured by another
 * copy of the engine in this process (sources run by tsx next to a module importing the
 * bundle) is resolved against the working directory, as it was shown.
 */
export const fileOf = (loc: SourceLocation): string | undefined =>
  loc.file === "<unknown>" ? undefined : (absolute.get(loc.file) ?? path.resolve(loc.file))

const located = (file: string, line: number, column: number): SourceLocation => {
  const shown = displayPath(file)
  absolute.set(shown, file)
  return { file: shown, line, column }
}

const frame = /\(?((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?\s*$/

/** A frame's file, unless it is Node's or the engine's own. */
const userFile = (name: string | null | undefined): string | undefined => {
  if (!name) return undefined
  const file = name.startsWith("file://") ? fileURLToPath(name) : name
  if (file.startsWith("node:") || !path.isAbsolute(file)) return undefined
  return internal.some((p) => file.startsWith(p)) ? undefined : file
}

/** A position in `file`, in its original source when `map` finds one. */
const locatedOriginal = (map: typeof TypeScriptImport.sourceMapped, file: string, line: number, column: number): SourceLocation => {
  const original = map(file, line, column)
  return original ? located(original.file, original.line, original.column) : located(file, line, column)
}

const unknown: SourceLocation = { file: "<unknown>", line: 0, column: 0 }

/**
 * From the stack's call sites, unformatted: formatting a stack finds the line of each frame,
 * and for the engine's frames V8 then indexes the lines of the whole 4.6 MB bundle, about
 * 10 ms in every process that loads a pipeline module (the module loader turns source maps
 * on, and Node then formats every frame).
 */
const fromCallSites = (): SourceLocation => {
  const limit = Error.stackTraceLimit
  const prepare = Error.prepareStackTrace
  const holder: { stack?: unknown } = {}
  let sites: unknown
  Error.stackTraceLimit = 64
  Error.prepareStackTrace = (_error, callSites) => callSites
  try {
    Error.captureStackTrace(holder, capture)
    // The stack is made on first read: read it while the formatter is this one.
    sites = holder.stack
  } finally {
    Error.prepareStackTrace = prepare
    Error.stackTraceLimit = limit
  }
  if (!Array.isArray(sites)) return unknown
  for (const site of sites as ReadonlyArray<NodeJS.CallSite>) {
    const file = userFile(site.getFileName())
    // Mapped as Node's formatting would have mapped it.
    if (file !== undefined) return locatedOriginal(TypeScriptImport.sourceMapped, file, site.getLineNumber() ?? 0, site.getColumnNumber() ?? 0)
  }
  return unknown
}

/** From the stack as the formatter someone installed writes it (a test runner's, which maps its own compiled files). */
const fromFormattedStack = (): SourceLocation => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 64
  const stack = new Error().stack ?? ""
  Error.stackTraceLimit = limit
  for (const line of stack.split("\n").slice(1)) {
    const m = frame.exec(line)
    const file = m ? userFile(m[1]) : undefined
    // That formatter leaves the modules this engine compiled as they ran.
    if (file !== undefined) return locatedOriginal(TypeScriptImport.originalPosition, file, Number(m![2]), Number(m![3]))
  }
  return unknown
}

/** Whether stacks are formatted by Node itself (`Error.prepareStackTrace` is absent, or Node's own function where Node defines one). */
const nodeFormats = (): boolean => Error.prepareStackTrace === undefined || Error.prepareStackTrace.name === "ErrorPrepareStackTrace"

/** The file, line and column of the first stack frame outside the engine. */
export const capture = (): SourceLocation => (nodeFormats() ? fromCallSites() : fromFormattedStack())
