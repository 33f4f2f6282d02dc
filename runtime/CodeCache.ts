import * as fs from "node:fs"
import * as path from "node:path"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as ModuleCache from "../compiler/ModuleCache.ts"
import * as RuntimeV8Flags from "./RuntimeV8Flags.ts"

/**
 * V8 code caches for the large JavaScript files every process loads: the engine bundle
 * (dist/engine.cjs, see EngineLoader) and, in the analysis thread, the TypeScript compiler
 * and ts-morph (CompilerCodeCache). Node 20 has no `module.enableCompileCache`, so without
 * them each process parses and compiles megabytes of code again.
 *
 * A script compiled here starts from its file's cache in the user's private module cache
 * (ModuleCache) when there is one; `save` writes the code V8 has compiled so far (the
 * functions the process ran, not only the top level) for each script whose cache was missing
 * or rejected, and removes the caches of the file's other versions. V8 rejects a cache that
 * does not match the source or its flags, so a changed file costs one slow start, not a
 * wrong one; and without a usable cache directory nothing is read or written.
 *
 * A cache also records how much code its writer held compiled at exit (`Header`). A process
 * that ends holding clearly more (it ran code the cache lacks: a `zephyr run` after the
 * cache came from a `zephyr compile`, a shuffle's worker after a map's) writes the cache
 * again, with that code as well: otherwise whichever command ran first after a build fixed
 * the cache for good, and every later `zephyr run` compiled the rest of the engine again
 * (70 ms of its command's CPU, when a script that only imported Effect wrote the cache).
 */

const SUFFIX = ".v8-code-cache"

interface Compiled {
  readonly script: vm.Script
  readonly cacheFile: string
  readonly hadCache: boolean
  /** What the cache's writer held compiled at its exit (`Header`); 0 without a cache. */
  readonly writerBytecode: number
}

/**
 * A cache file is a header and V8's data: 4 bytes of magic, then (32 bits, little-endian)
 * the bytes of bytecode its writing process held at exit (`v8.getHeapCodeStatistics`).
 * V8 reads the data from a view of the file's buffer, past the header: nothing is copied.
 */
export const Header = {
  magic: Buffer.from("ZCC1", "latin1"),
  make: (bytecode: number): Buffer => {
    const header = Buffer.alloc(8)
    Header.magic.copy(header, 0)
    header.writeUInt32LE(Math.min(Math.max(0, Math.round(bytecode)), 0xffff_ffff), 4)
    return header
  },
  /** The writer's bytecode and V8's data, or undefined for a file without the header (damaged, or from before it). */
  read: (file: Buffer): { readonly writerBytecode: number; readonly data: Buffer } | undefined =>
    file.length > 8 && file.subarray(0, 4).equals(Header.magic) ? { writerBytecode: file.readUInt32LE(4), data: file.subarray(8) } : undefined
}

/**
 * Whether a process holding `bytecode` bytes compiled at exit ran clearly more code than the
 * cache's writer held (`writerBytecode`): 5% more, and at least 64 kB, so that a process
 * doing what the writer did (a few functions of its own module, Node's) leaves the cache
 * as it is. One holding less (it ran less, or V8 flushed the bytecode of functions unused
 * for long, in a long run) never replaces a cache with a smaller one.
 */
export const outgrown = (writerBytecode: number, bytecode: number): boolean =>
  bytecode - writerBytecode > Math.max(64 * 1024, writerBytecode * 0.05)

const compiled: Array<Compiled> = []

/**
 * The cache of a file's version, `<name>-<place>-<version>`. The place is the file's directory,
 * the process's command-line flags (a worker's heap flags: what its code cache holds is what a
 * worker runs) and what V8 checks a cache against besides the source
 * (`v8.cachedDataVersionTag()`: V8's version and its flags as they are now, which a worker
 * sets back to their defaults, RuntimeV8Flags): V8 rejects a cache made under other flags, so
 * processes with other flags keep caches of their own. `save` replaces the caches of other
 * versions of the same place only, so two installs of Zephyr (two projects, two checkouts) no
 * longer remove each other's cache on every run, each run then compiling the engine again
 * (about 0.12 s per process). The version is Node's and the file's size, modification time
 * and inode (not a hash of megabytes, 30-100 ms).
 */
const cacheFileOf = (dir: string, filename: string): string => {
  const stat = fs.statSync(filename)
  const commandLine = process.execArgv.filter((a) => a.startsWith("--") && !/^--(require|import|loader|experimental-loader|eval|print|input-type|inspect|cpu-prof|heap-prof|env-file)\b/.test(a))
  const flags = ModuleCache.sha256(JSON.stringify([path.dirname(path.resolve(filename)), commandLine, v8.cachedDataVersionTag()])).slice(0, 8)
  const version = ModuleCache.sha256(JSON.stringify([process.version, stat.size, stat.mtimeMs, stat.ino])).slice(0, 16)
  return path.join(dir, `${path.basename(filename).replace(/\.c?js$/, "")}-${flags}-${version}${SUFFIX}`)
}

/**
 * Compiles `source` (the text of `filename`) as a script, from its code cache when there is
 * one. The script has no `import()` of its own (see ExternalImport).
 */
export const compile = (filename: string, source: string): vm.Script => {
  const dir = ModuleCache.directory()
  if (dir === undefined) return new vm.Script(source, { filename })
  const cacheFile = cacheFileOf(dir, filename)
  let cached: ReturnType<typeof Header.read>
  try {
    cached = Header.read(fs.readFileSync(cacheFile))
  } catch {
    // first time
  }
  const script = new vm.Script(source, { filename, ...(cached ? { cachedData: cached.data } : {}) })
  compiled.push({ script, cacheFile, hadCache: cached !== undefined, writerBytecode: cached?.writerBytecode ?? 0 })
  return script
}

/**
 * The caches of other versions of the same file in the same place (an engine upgraded in
 * place, another Node), and those named as before the flags were part of the name
 * (`<name>-<24 hex>`): left behind otherwise, megabytes each.
 */
const otherVersions = (file: string): Array<string> => {
  const name = path.basename(file)
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  const base = name.slice(0, name.length - `-${"0".repeat(8)}-${"0".repeat(16)}${SUFFIX}`.length)
  const flags = name.slice(base.length + 1, base.length + 9)
  const own = new RegExp(`^${escape(base)}-(?:${flags}-[0-9a-f]{16}|[0-9a-f]{24})${escape(SUFFIX)}$`)
  try {
    return fs.readdirSync(path.dirname(file)).filter((f) => f !== name && own.test(f)).map((f) => path.join(path.dirname(file), f))
  } catch {
    return []
  }
}

/** A signal's listener that does nothing: while it is installed, the signal no longer kills the process. */
const deferSignal = (): void => {}

/**
 * Writes the caches that were missing or rejected; a cache that cannot be written costs speed
 * only. It runs at exit, where a worker spends some tens of ms making and writing megabytes
 * of cache: the driver ends its run by sending SIGTERM to every worker still alive, which
 * killed such a worker mid-write (in one of three fresh runs: its cache lost, so the next run
 * compiled the engine again, and once a temporary file left behind). So SIGTERM waits until
 * the caches are written; the process is exiting anyway.
 * (No parameters: it is an exit listener, which Node calls with the exit code.)
 */
export const save = (): void => saveWith(ModuleCache.writeAtomic)

/** `save`, writing each cache with `write` (tests interrupt it). */
export const saveWith = (write: (file: string, data: Uint8Array) => void): void => {
  process.on("SIGTERM", deferSignal)
  // Made under the flags the next start compiles with, or it would reject them (RuntimeV8Flags).
  try {
    RuntimeV8Flags.asAtStart(() => saveCaches(write))
  } finally {
    process.off("SIGTERM", deferSignal)
  }
}

const saveCaches = (write: (file: string, data: Uint8Array) => void): void => {
  if (compiled.length === 0) return
  // All the isolate's bytecode, about 3 ms to count: the engine's makes most of it.
  const bytecode = v8.getHeapCodeStatistics().bytecode_and_metadata_size
  for (const { script, cacheFile, hadCache, writerBytecode } of compiled) {
    if (hadCache && script.cachedDataRejected === false && !outgrown(writerBytecode, bytecode)) {
      ModuleCache.markUsed(cacheFile)
      continue
    }
    try {
      write(cacheFile, Buffer.concat([Header.make(bytecode), script.createCachedData()]))
      for (const old of otherVersions(cacheFile)) fs.rmSync(old, { force: true })
      ModuleCache.pruneDaily(path.dirname(cacheFile))
    } catch {
      // see above
    }
  }
  compiled.length = 0
}
