import { createHash, randomUUID } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { isMainThread } from "node:worker_threads"
import packageJson from "../package.json" with { type: "json" }
import { processGlobal } from "../runtime/ProcessGlobal.ts"
import * as Directory from "../runtime/storage/Directory.ts"

/**
 * Compiled pipeline modules, kept between processes. Every process of a run (the driver,
 * each worker, every `zephyr worker` on the machine) imports the same module; compiling it
 * costs about 0.12 s of each process's start-up (loading esbuild and starting its service),
 * while checking a cached compile costs a read and a hash of the module's local files.
 *
 * An entry is keyed by the entry file's path and the compiler's versions, and is valid only
 * while every local file it was built from has the same content (a SHA-256 of each, recorded
 * as esbuild read them). The directory holds code this process will run, so it must be the
 * user's own: created with mode 0700 under `$XDG_CACHE_HOME/zephyr/modules` (default
 * `~/.cache`), and not used at all when it is a symlink, belongs to someone else or is open
 * to group or others. Without a usable directory, modules are compiled every time.
 *
 *   <dir>/<key>.json             { files: [{ path, sha256 }], module: "<key>-<id>.mjs" }
 *   <dir>/<key>-<id>.mjs         the compiled module (a new id for every compile)
 *
 * The checks' results (DiagnosticCache) and V8 code caches (CodeCache) live there too. A file
 * nothing used for MAX_AGE_MS is removed (`pruneDaily`): entries are per module path and per
 * Zephyr version, and without it every module ever run (a generated one in a temporary
 * directory, each test's) stayed for good.
 */

/** The file a compile read, and the hash of what it read. */
export interface SourceFile {
  readonly path: string
  readonly sha256: string
  /** A configuration file (tsconfig.json, package.json), not a source of the module. */
  readonly config?: boolean | undefined
}

interface Entry {
  readonly files: ReadonlyArray<SourceFile>
  readonly module: string
}

export const sha256 = (text: string | Uint8Array): string => createHash("sha256").update(text).digest("hex")

/** One per process (see ProcessGlobal): the directory, or null when refused (said once). */
const resolved = processGlobal("ModuleCache/directory", (): { dir: string | null | undefined } => ({ dir: undefined }))

/**
 * The cache directory, created if needed; undefined when it is missing, unsafe or unwritable.
 * The first refusal in a command's main thread (not a worker it started) is said once on
 * stderr: every cache is off then, and every command compiles and checks from scratch.
 */
export const directory = (): string | undefined => {
  if (resolved.dir === undefined) {
    const dir = process.env.ZEPHYR_MODULE_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "zephyr", "modules")
    const checked = privateDirectory(dir)
    resolved.dir = typeof checked === "string" ? checked : null
    if (typeof checked !== "string" && isMainThread && process.env.ZEPHYR_DRIVER_PID === undefined) {
      process.stderr.write(`zephyr: not caching compiled modules or checks: the cache directory ${dir} ${checked.why}. Every command compiles and checks the module again. Make it private (chmod 700 ${dir}, owned by you) or choose another with ZEPHYR_MODULE_CACHE_DIR.\n`)
    }
  }
  return resolved.dir ?? undefined
}

/** The directory when it is safe to run code from, else why not (a phrase after "the directory"). */
export const privateDirectory = (dir: string): string | { readonly why: string } => {
  try {
    Directory.make(dir, { mode: 0o700 })
    const st = fs.lstatSync(dir)
    const uid = process.getuid?.()
    if (!st.isDirectory()) return { why: st.isSymbolicLink() ? "is a symbolic link" : "is not a directory" }
    if (uid !== undefined && st.uid !== uid) return { why: `belongs to user ${st.uid}, not to you (${uid})` }
    if ((st.mode & 0o077) !== 0) return { why: `is open to ${(st.mode & 0o070) !== 0 ? "its group" : "others"} (mode ${(st.mode & 0o777).toString(8)})` }
    fs.accessSync(dir, fs.constants.W_OK)
    return dir
  } catch (e) {
    return { why: `cannot be used (${(e as { code?: string }).code ?? (e as Error).message})` }
  }
}

let esbuildVersion: string | undefined
const compilerVersion = (): string => {
  if (esbuildVersion === undefined) {
    try {
      const require = createRequire(import.meta.url)
      esbuildVersion = (JSON.parse(fs.readFileSync(require.resolve("esbuild/package.json"), "utf8")) as { version: string }).version
    } catch {
      esbuildVersion = "unknown"
    }
  }
  return esbuildVersion
}

/** Bump when the compile's options change what it outputs. */
const FORMAT = 1

export const keyOf = (entryFile: string): string =>
  sha256(JSON.stringify([FORMAT, packageJson.version, compilerVersion(), process.version.split(".")[0], path.resolve(entryFile)])).slice(0, 32)

/** Where a compile of `entryFile` should write, so that its source map's relative paths hold in the cache. */
export const outputFile = (dir: string, key: string): string => path.join(dir, `${key}-${randomUUID().slice(0, 8)}.mjs`)

/** The cached compiled module of `entryFile`, when every file it was built from is unchanged. */
export const lookup = (dir: string, key: string): { readonly module: string; readonly files: ReadonlyArray<SourceFile> } | undefined => {
  let entry: Entry
  try {
    entry = JSON.parse(fs.readFileSync(path.join(dir, `${key}.json`), "utf8")) as Entry
  } catch {
    return undefined
  }
  if (!Array.isArray(entry.files) || typeof entry.module !== "string" || entry.module.includes("/") || entry.module.includes(path.sep)) return undefined
  for (const f of entry.files) {
    let content: Buffer
    try {
      content = fs.readFileSync(f.path)
    } catch {
      return undefined
    }
    if (sha256(content) !== f.sha256) return undefined
  }
  const module = path.join(dir, entry.module)
  if (!fs.existsSync(module)) return undefined
  markUsed(path.join(dir, `${key}.json`))
  markUsed(module)
  return { module, files: entry.files }
}

/**
 * Writes a compiled module under its own new name. Nothing names it yet, so no other
 * process removes it: the process that compiled it imports it first, then `publish`es it.
 */
export const writeModule = (moduleFile: string, code: Uint8Array): boolean => {
  try {
    writeAtomic(moduleFile, code)
    return true
  } catch {
    return false
  }
}

/**
 * Publishes a compile written by `writeModule` (its entry, by rename, so a reader never sees
 * half of it). The module an older entry named is removed; a process that was about to
 * import it compiles again instead.
 */
export const publish = (dir: string, key: string, moduleFile: string, files: ReadonlyArray<SourceFile>): void => {
  try {
    const previous = lookupModuleName(dir, key)
    writeAtomic(path.join(dir, `${key}.json`), JSON.stringify({ files, module: path.basename(moduleFile) } satisfies Entry))
    if (previous && previous !== path.basename(moduleFile)) fs.rmSync(path.join(dir, previous), { force: true })
  } catch {
    // A cache that cannot be written costs a compile next time, nothing else.
  }
  pruneDaily(dir)
}

const lookupModuleName = (dir: string, key: string): string | undefined => {
  try {
    const name = (JSON.parse(fs.readFileSync(path.join(dir, `${key}.json`), "utf8")) as Entry).module
    return typeof name === "string" && !name.includes("/") ? name : undefined
  } catch {
    return undefined
  }
}

/** A file of the cache that no process used for this long is removed; using it again costs one compile, check or slow start. */
export const MAX_AGE_MS = 30 * 24 * 3600 * 1000
const DAY_MS = 24 * 3600 * 1000
/** Its modification time is when the directory was last pruned. */
const PRUNED_MARK = "pruned"

/**
 * Marks a file of the cache as used now (its modification time, at most once a day), so that
 * `pruneDaily` keeps what is in use however long ago it was written.
 */
export const markUsed = (file: string, now: number = Date.now()): void => {
  try {
    if (now - fs.statSync(file).mtimeMs > DAY_MS) fs.utimesSync(file, now / 1000, now / 1000)
  } catch {
    // gone, or not ours to touch: pruning may remove it, which costs a compile
  }
}

/**
 * Removes the files of `dir` that no process used for MAX_AGE_MS, at most once a day (the
 * cache's writers call it: a compile, a check, a code cache). Returns how many it removed.
 */
export const pruneDaily = (dir: string, now: number = Date.now()): number => {
  const mark = path.join(dir, PRUNED_MARK)
  try {
    if (now - fs.statSync(mark).mtimeMs < DAY_MS) return 0
  } catch {
    // never pruned
  }
  let names: Array<string>
  try {
    fs.writeFileSync(mark, "", { mode: 0o600 })
    fs.utimesSync(mark, now / 1000, now / 1000)
    names = fs.readdirSync(dir)
  } catch {
    return 0
  }
  let removed = 0
  for (const name of names) {
    if (name === PRUNED_MARK) continue
    const file = path.join(dir, name)
    try {
      const st = fs.lstatSync(file)
      if (st.isFile() && now - st.mtimeMs > MAX_AGE_MS) {
        fs.rmSync(file, { force: true })
        removed++
      }
    } catch {
      // removed meanwhile by another process
    }
  }
  return removed
}

/** Writes a file of the cache under a temporary name and renames it: a reader never sees half of it. */
export const writeAtomic = (file: string, data: string | Uint8Array): void => {
  const tmp = `${file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`
  try {
    fs.writeFileSync(tmp, data, { mode: 0o600 })
    fs.renameSync(tmp, file)
  } catch (e) {
    // A full disk or a vanished directory: no half-written file stays behind.
    fs.rmSync(tmp, { force: true })
    throw e
  }
}
