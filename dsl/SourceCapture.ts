import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { SourceLocation } from "../compiler/plan/SourceLocation.ts"
import * as PackageRoot from "../runtime/PackageRoot.ts"

// Frames from the engine's own modules (sources or the bundle) are skipped: the location is the user's DSL call.
const root = PackageRoot.root
const internal = [path.join(root, "dsl") + path.sep, path.join(root, "compiler") + path.sep, path.join(root, "index.ts"), PackageRoot.dist + path.sep]

const frame = /\(?((?:file:\/\/)?[^\s()]+?):(\d+):(\d+)\)?\s*$/

const displayPath = (file: string): string => {
  const rel = path.relative(process.cwd(), file)
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel.split(path.sep).join("/") : file
}

/** The file, line and column of the first stack frame outside the engine. */
export const capture = (): SourceLocation => {
  const limit = Error.stackTraceLimit
  // A test runner may replace Node's stack formatting with its own, which does not apply the
  // source maps of modules it did not transform (a pipeline module under the TypeScript
  // loader): Node's own formatting gives the same positions in every process.
  const format = Error.prepareStackTrace
  Error.stackTraceLimit = 64
  delete (Error as { prepareStackTrace?: unknown }).prepareStackTrace
  const stack = new Error().stack ?? ""
  if (format) Error.prepareStackTrace = format
  Error.stackTraceLimit = limit
  for (const line of stack.split("\n").slice(1)) {
    const m = frame.exec(line)
    if (!m) continue
    let file = m[1]!
    if (file.startsWith("file://")) file = fileURLToPath(file)
    if (file.startsWith("node:") || !path.isAbsolute(file)) continue
    if (internal.some((p) => file.startsWith(p))) continue
    return { file: displayPath(file), line: Number(m[2]), column: Number(m[3]) }
  }
  return { file: "<unknown>", line: 0, column: 0 }
}
