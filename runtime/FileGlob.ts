import * as fs from "node:fs"
import * as path from "node:path"
import picomatch from "picomatch"
import { type FileSystemAdapter, glob as crawlAsync, type GlobOptions, globSync as crawlSync } from "tinyglobby"
import { ZephyrPlanError } from "../plan/Errors.ts"
import * as Source from "../plan/Source.ts"
import * as ObjectStore from "./storage/ObjectStore.ts"
import * as StoragePath from "./storage/StoragePath.ts"

/**
 * Glob expansion for file sources (`fromFiles`, `readJsonl`, ...) on tinyglobby (fdir to
 * walk, picomatch to match): `*`, `?`, `[a-z]` (`[!a-z]` negates), `**` (any depth, a
 * trailing one every file below), `{a,b}` and `\` escapes; every other character is
 * literal. Results are files only, sorted by path. Hidden entries match only a pattern
 * segment that itself starts with a dot.
 *
 * Symbolic links are followed, to files and to directories (as Spark and DuckDB list
 * them), but a directory is never entered again below itself (a link back up ends
 * there), and a file reached by several paths is listed once, under the first of them in
 * sorted order: a link loop cannot turn one file into many input shards.
 *
 * The driver and every worker count a source's files with the synchronous `glob` while
 * they compile (a default shard count derived from the count is baked into the plan); the
 * coordinator lists them with `globAsync`, which yields to the event loop between
 * directories. Both walk the same way and give the same list.
 */

/** The characters of the documented syntax; a pattern without them names one file. */
const isMagic = (s: string) => /[*?[\]{}\\]/.test(s)

// picomatch also reads ( ) | ! + @ as regex groups, negations and extglobs; here they are
// literal characters of file names, as in the documented syntax. A bracket class is
// copied as written (`[!a]` negates there).
const literalize = (pattern: string): string => {
  let out = ""
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === "\\") { out += pattern.slice(i, i + 2); i++ }
    else if (c === "[") {
      let end = i + 1
      if (pattern[end] === "!" || pattern[end] === "^") end++
      if (pattern[end] === "]") end++
      end = pattern.indexOf("]", end)
      if (end < 0) out += "\\["
      else { out += pattern.slice(i, end + 1); i = end }
    } else out += "()|!+@".includes(c) ? `\\${c}` : c
  }
  return out
}

const matchOptions = { dot: false, posix: true } as const

/** Why picomatch cannot compile the pattern (a reversed range, an open brace), or undefined. */
const problemOf = (pattern: string): string | undefined => {
  try {
    picomatch.makeRe(pattern, { ...matchOptions, debug: true })
    // tinyglobby also matches each path segment on its own to prune the walk.
    for (const part of picomatch.scan(pattern, { parts: true }).parts ?? []) picomatch.makeRe(part, { ...matchOptions, debug: true })
    return undefined
  } catch (e) {
    const message = (e as Error)?.message ?? String(e)
    return message.slice(message.lastIndexOf(": ") + 2) || message
  }
}

const invalid = (pattern: string, problem: string, source?: Source.Source) =>
  new ZephyrPlanError({
    reason: "invalid-glob",
    message: source
      ? `Invalid glob pattern in ${Source.describe(source)} at ${source.source.file}:${source.source.line}: ${problem}. Patterns use *, ?, [a-z], [!a-z], ** and {a,b}; write \\ before a special character meant literally.`
      : `Invalid glob pattern ${JSON.stringify(pattern)}: ${problem}.`,
    ...(source ? { file: source.source.file, line: source.source.line } : {})
  })

interface Walk {
  /** Where the listing starts: the pattern's leading segments without magic. */
  readonly base: string
  /** The rest of the pattern, for tinyglobby, relative to `base`; undefined when the pattern names one file. */
  readonly rest: string | undefined
  /** Each directory read (its path as walked) and its real path. */
  readonly realDirs: Map<string, string>
  /** Each symbolic link to a file (its path as walked) and the real path of the file. */
  readonly linkedFiles: Map<string, string>
}

const walkOf = (pattern: string, cwd: string, source?: Source.Source): Walk => {
  const segments = pattern.split("/")
  let fixed = 0
  while (fixed < segments.length - 1 && !isMagic(segments[fixed]!)) fixed++
  const prefix = segments.slice(0, fixed).join("/")
  const base = prefix === "" ? (path.isAbsolute(pattern) ? path.parse(path.resolve(cwd, pattern)).root : path.resolve(cwd)) : path.resolve(cwd, prefix)
  const walk = { base, realDirs: new Map<string, string>(), linkedFiles: new Map<string, string>() }
  if (!isMagic(pattern)) return { ...walk, rest: undefined }
  const rest = literalize(segments.slice(fixed).join("/"))
  const problem = problemOf(rest)
  if (problem !== undefined) throw invalid(pattern, problem, source)
  return { ...walk, rest }
}

/** A symbolic link shown to fdir as what it points to, so that the walk decides about links. */
class LinkEntry {
  constructor(readonly name: string, private readonly directory: boolean) {}
  isFile() { return !this.directory }
  isDirectory() { return this.directory }
  isSymbolicLink() { return false }
}

interface Target { readonly real: string; readonly stats: fs.Stats }

/**
 * Whether to read a directory: not when its real path is that of a directory the walk is
 * already inside (a link back to an ancestor), which would repeat the same files forever.
 */
const enter = (walk: Walk, dir: string, real: string): boolean => {
  for (let up = path.dirname(dir); up !== dir;) {
    const upReal = walk.realDirs.get(up)
    if (upReal === undefined) break
    if (upReal === real) return false
    const next = path.dirname(up)
    if (next === up) break
    up = next
  }
  walk.realDirs.set(dir, real)
  return true
}

const present = (walk: Walk, dir: string, entries: ReadonlyArray<fs.Dirent>, targets: ReadonlyMap<string, Target>) => {
  const out: Array<fs.Dirent | LinkEntry> = []
  for (const entry of entries) {
    if (!entry.isSymbolicLink()) { out.push(entry); continue }
    const target = targets.get(entry.name) // none: a broken link
    if (target?.stats.isDirectory()) out.push(new LinkEntry(entry.name, true))
    else if (target?.stats.isFile()) {
      walk.linkedFiles.set(path.join(dir, entry.name), target.real)
      out.push(new LinkEntry(entry.name, false))
    }
  }
  return out
}

// fdir reads directories through these; an unreadable directory lists as empty, as fdir's
// own suppressErrors would have it.
const readdirSync = (walk: Walk) => (crawlPath: string): Array<fs.Dirent | LinkEntry> => {
  const dir = path.resolve(crawlPath)
  try {
    if (!enter(walk, dir, fs.realpathSync.native(dir))) return []
    const entries = fs.readdirSync(dir, { withFileTypes: true })
    const targets = new Map<string, Target>()
    for (const entry of entries) {
      if (!entry.isSymbolicLink()) continue
      try {
        const real = fs.realpathSync.native(path.join(dir, entry.name))
        targets.set(entry.name, { real, stats: fs.statSync(real) })
      } catch { /* a broken link */ }
    }
    return present(walk, dir, entries, targets)
  } catch {
    return []
  }
}

const readdirAsync = (walk: Walk) => async (crawlPath: string): Promise<Array<fs.Dirent | LinkEntry>> => {
  const dir = path.resolve(crawlPath)
  try {
    if (!enter(walk, dir, await fs.promises.realpath(dir))) return []
    const entries = await fs.promises.readdir(dir, { withFileTypes: true })
    const targets = new Map<string, Target>()
    await Promise.all(entries.filter((e) => e.isSymbolicLink()).map(async (entry) => {
      try {
        const real = await fs.promises.realpath(path.join(dir, entry.name))
        targets.set(entry.name, { real, stats: await fs.promises.stat(real) })
      } catch { /* a broken link */ }
    }))
    return present(walk, dir, entries, targets)
  } catch {
    return []
  }
}

const crawlOptions = (walk: Walk, fsAdapter: FileSystemAdapter): GlobOptions => ({
  cwd: walk.base, ...matchOptions, onlyFiles: true, expandDirectories: false, caseSensitiveMatch: true, fs: fsAdapter
})

const syncFs = (walk: Walk): FileSystemAdapter => ({ readdirSync: readdirSync(walk) as unknown as typeof fs.readdirSync })
const asyncFs = (walk: Walk): FileSystemAdapter => {
  const read = readdirAsync(walk)
  const readdir = (dir: string, _options: unknown, callback: (error: Error | null, entries: Array<fs.Dirent | LinkEntry>) => void) => {
    read(dir).then((entries) => callback(null, entries))
  }
  return { readdir: readdir as unknown as typeof fs.readdir }
}

/**
 * The paths to return, sorted, each real file once (the first of its paths): relative to
 * `cwd` for a relative pattern, absolute for an absolute one.
 */
const finish = (walk: Walk, pattern: string, cwd: string, found: ReadonlyArray<string>): Array<string> => {
  const shown = (absolute: string) => (path.isAbsolute(pattern) ? absolute : path.relative(cwd, absolute).split(path.sep).join("/"))
  const files = found.map((p) => path.resolve(walk.base, p)).map((absolute) => ({ absolute, shown: shown(absolute) }))
  files.sort((a, b) => (a.shown < b.shown ? -1 : a.shown > b.shown ? 1 : 0))
  const seen = new Set<string>()
  const out: Array<string> = []
  for (const f of files) {
    const dir = path.dirname(f.absolute)
    const real = walk.linkedFiles.get(f.absolute) ?? path.join(walk.realDirs.get(dir) ?? dir, path.basename(f.absolute))
    if (seen.has(real)) continue
    seen.add(real)
    out.push(f.shown)
  }
  return out
}

const oneFile = (walk: Walk, isFile: boolean, pattern: string, cwd: string) =>
  isFile ? finish(walk, pattern, cwd, [path.resolve(cwd, pattern)]) : []

/**
 * The files matching `pattern`, sorted. Relative patterns resolve against `cwd` and stay
 * relative. An invalid pattern throws a ZephyrPlanError (reason `invalid-glob`).
 */
export const glob = (pattern: string, cwd: string = process.cwd()): Array<string> => globWith(pattern, cwd)

/** `glob` without blocking the event loop: the same list, read asynchronously. */
export const globAsync = (pattern: string, cwd: string = process.cwd()): Promise<Array<string>> => globAsyncWith(pattern, cwd)

const globWith = (pattern: string, cwd: string, source?: Source.Source): Array<string> => {
  if (StoragePath.isS3(pattern)) throw new Error(`Internal: ${pattern} is in object storage; list it with sourceFiles or listObjects`)
  const walk = walkOf(pattern, cwd, source)
  if (walk.rest === undefined) {
    let isFile = false
    try { isFile = fs.statSync(path.resolve(cwd, pattern)).isFile() } catch { /* no such file */ }
    return oneFile(walk, isFile, pattern, cwd)
  }
  return finish(walk, pattern, cwd, crawlSync(walk.rest, crawlOptions(walk, syncFs(walk))))
}

const globAsyncWith = async (pattern: string, cwd: string, source?: Source.Source): Promise<Array<string>> => {
  if (StoragePath.isS3(pattern)) return (await listObjects(pattern, source)).map((o) => o.path)
  const walk = walkOf(pattern, cwd, source)
  if (walk.rest === undefined) {
    const isFile = await fs.promises.stat(path.resolve(cwd, pattern)).then((s) => s.isFile(), () => false)
    return oneFile(walk, isFile, pattern, cwd)
  }
  return finish(walk, pattern, cwd, await crawlAsync(walk.rest, crawlOptions(walk, asyncFs(walk))))
}

// ---- object storage ----------------------------------------------------------------------

/**
 * A glob over object storage (`s3://bucket/key-pattern`): the bucket is listed from the
 * literal beginning of the key pattern (every character before the first wildcard, escapes
 * undone, which need not end at a `/`), and each listed key is matched against the whole
 * key pattern with the same rules as local files (picomatch; `*` never crosses a `/`,
 * hidden segments only match a pattern segment starting with a dot). Keys ending in `/`
 * (the empty "folder" objects some consoles create) are not files.
 */
export interface ObjectGlob {
  readonly bucket: string
  /** The literal beginning of the key pattern: what to list. */
  readonly prefix: string
  /** The whole key when the pattern has no wildcard (one object), else undefined. */
  readonly exact: string | undefined
  readonly matches: (key: string) => boolean
}

/** The literal beginning of a key pattern: up to its first unescaped wildcard, escapes undone. */
export const literalPrefix = (keyPattern: string): string => {
  let out = ""
  for (let i = 0; i < keyPattern.length; i++) {
    const c = keyPattern[i]!
    if (c === "\\") {
      if (i + 1 < keyPattern.length) out += keyPattern[++i]
      continue
    }
    if ("*?[{".includes(c)) return out
    out += c
  }
  return out
}

export const objectGlob = (pattern: string, source?: Source.Source): ObjectGlob => {
  const { bucket, key } = StoragePath.parse(pattern, source ? `${Source.describe(source)} at ${source.source.file}:${source.source.line}` : undefined)
  if (key === "") throw invalid(pattern, "it names a bucket but no key pattern (write s3://bucket/** for every object)", source)
  if (!isMagic(key)) return { bucket, prefix: key, exact: key, matches: (k) => k === key }
  const literal = literalize(key)
  const problem = problemOf(literal)
  if (problem !== undefined) throw invalid(pattern, problem, source)
  const re = picomatch.makeRe(literal, matchOptions)
  return { bucket, prefix: literalPrefix(key), exact: undefined, matches: (k) => !k.endsWith("/") && re.test(k) }
}

export interface ListedObject {
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
}

/** The objects matching an `s3://` pattern, sorted by URL, with their sizes and modification times. */
export const listObjects = async (pattern: string, source?: Source.Source): Promise<Array<ListedObject>> => {
  const g = objectGlob(pattern, source)
  const store = await ObjectStore.s3()
  const out: Array<ListedObject> = []
  if (g.exact !== undefined) {
    const url = StoragePath.format({ bucket: g.bucket, key: g.exact })
    const stat = await store.stat(url)
    return stat === undefined || g.exact.endsWith("/") ? [] : [{ path: url, ...stat }]
  }
  for await (const o of store.list(g.bucket, g.prefix)) {
    if (g.matches(o.key)) out.push({ path: StoragePath.format({ bucket: g.bucket, key: o.key }), size: o.size, mtimeMs: o.mtimeMs })
  }
  out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  return out
}

/**
 * The files of a file source, listed without blocking (the coordinator's event loop
 * serves heartbeats meanwhile). An invalid pattern names the DSL call and its line; a
 * listing that object storage refuses names the URL and the option to fix.
 */
export const sourceFiles = async (source: Extract<Source.Source, { kind: "files" }>): Promise<Array<string>> => {
  if (!StoragePath.isS3(source.pattern)) return globAsyncWith(source.pattern, process.cwd(), source)
  return (await listObjects(source.pattern, source)).map((o) => o.path)
}

/**
 * The shards of a source as the driver and every worker count them when they compile: a
 * file source has one per file listed now (a default shard count derived from it is baked
 * into the plan, so both sides must resolve it the same way, or their fingerprints differ).
 * An object-storage source is not listed while compiling (that would take requests, and
 * the SDK, in every process that compiles): its count stays unknown until the coordinator
 * lists it when the stage starts, and its pattern is only checked.
 */
export const countSourceShards = (source: Source.Source): number | null => {
  if (source.kind === "list") return source.count
  if (StoragePath.isS3(source.pattern)) {
    objectGlob(source.pattern, source)
    return null
  }
  return globWith(source.pattern, process.cwd(), source).length
}
