import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { SourceLocation } from "../plan/SourceLocation.ts"
import * as TypeScriptImport from "../compiler/TypeScriptImport.ts"
import * as PackageRoot from "../runtime/PackageRoot.ts"

// Frames from the engine's own modules (sources or the bundle) are skipped: the location is the user's DSL call.
const root = PackageRoot.root
const internal = [path.join(root, "dsl") + path.sep, path.join(root, "compiler") + path.sep, path.join(root, "index.ts"), PackageRoot.dist + path.sep]

const frame = /\(?((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?\s*$/

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

/** The file, line and column of the first stack frame outside the engine. */
export const capture = (): SourceLocation => {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 64
  const stack = new Error().stack ?? ""
  Error.stackTraceLimit = limit
  for (const line of stack.split("\n").slice(1)) {
    const m = frame.exec(line)
    if (!m) continue
    let file = m[1]!
    if (file.startsWith("file://")) file = fileURLToPath(file)
    if (file.startsWith("node:") || !path.isAbsolute(file)) continue
    if (internal.some((p) => file.startsWith(p))) continue
    // A test runner's own stack formatting leaves compiled pipeline modules unmapped.
    const original = TypeScriptImport.originalPosition(file, Number(m[2]), Number(m[3]))
    if (original) return located(original.file, original.line, original.column)
    return located(file, Number(m[2]), Number(m[3]))
  }
  return { file: "<unknown>", line: 0, column: 0 }
}
