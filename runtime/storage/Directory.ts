import * as fs from "node:fs"
import * as path from "node:path"

/**
 * Creating a directory with its missing parents, as `mkdir -p` does, one level at a time.
 *
 * Node 20's `mkdir(dir, { recursive: true })` never returns when a level's parent exists but
 * refuses new entries with ENOENT, as /proc and /sys do: `--chunk-dir /proc/x` or an output
 * under /proc spun a core forever (the synchronous call deaf to Ctrl-C and SIGTERM, the
 * asynchronous one holding a thread of the pool and its task). Here each level is one
 * `mkdir`, and the first that fails is the error, naming its path.
 *
 * Synchronous only: a few `stat` and `mkdir` calls, as the asynchronous callers' other
 * steps would wait for anyway. Another process creating a level at the same time is fine.
 */
export interface Options {
  /** The new directories' mode (before the umask), as `fs.mkdir`'s. */
  readonly mode?: number | undefined
}

const codeOf = (e: unknown): string | undefined => (e as NodeJS.ErrnoException | undefined)?.code

/** A path that exists but is not a directory: Node's own error for it (ENOTDIR, or EEXIST for `dir` itself). */
const notADirectory = (dir: string, existing: string): NodeJS.ErrnoException => {
  const code = existing === dir ? "EEXIST" : "ENOTDIR"
  const what = existing === dir ? "file already exists" : "not a directory"
  return Object.assign(new Error(`${code}: ${what}, mkdir '${dir}'`), { code, syscall: "mkdir", path: existing })
}

/** Whether `level` is a directory (true), something else (false) or missing (undefined). */
const isDirectory = (level: string): boolean | undefined => {
  try {
    return fs.statSync(level).isDirectory()
  } catch (e) {
    // ENOTDIR: a file higher up, found when the walk reaches it.
    if (codeOf(e) === "ENOENT" || codeOf(e) === "ENOTDIR") return undefined
    throw e
  }
}

/** The levels of `dir` that do not exist, deepest first; throws when the nearest existing one is not a directory. */
const missingLevels = (dir: string): Array<string> => {
  const missing: Array<string> = []
  for (let level = path.resolve(dir); ; level = path.dirname(level)) {
    const found = isDirectory(level)
    if (found === true) return missing
    if (found === false) throw notADirectory(path.resolve(dir), level)
    missing.push(level)
    if (path.dirname(level) === level) return missing
  }
}

/** Creates `dir` and its missing parents; returns the first directory created, or undefined when `dir` existed (as Node's recursive mkdir). */
export const make = (dir: string, options: Options = {}): string | undefined => {
  const missing = missingLevels(dir)
  let first: string | undefined
  for (let i = missing.length - 1; i >= 0; i--) {
    const level = missing[i]!
    try {
      fs.mkdirSync(level, { mode: options.mode })
      first ??= level
    } catch (e) {
      if (!(codeOf(e) === "EEXIST" && isDirectory(level) === true)) throw e
    }
  }
  return first
}
