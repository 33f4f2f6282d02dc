import * as fs from "node:fs"
import Module, { createRequire } from "node:module"
import * as path from "node:path"
import * as vm from "node:vm"
import * as ModuleCache from "../ModuleCache.ts"

/**
 * A V8 code cache for the TypeScript compiler and ts-morph: 12 MB of JavaScript that V8
 * would otherwise parse and compile again in every process that checks a module (Node 20
 * has no `module.enableCompileCache`). The analysis thread installs it before it loads
 * ts-morph; after the checks, `save` writes the code V8 compiled meanwhile (the parser,
 * binder and checker functions the checks ran) into the user's private module cache, and
 * the next check starts from it. V8 rejects a cache that does not match the source, so a
 * changed compiler costs one slow start, not a wrong one.
 */

interface Loaded {
  readonly script: vm.Script
  readonly file: string
}

const loaded: Array<Loaded> = []
let installed = false

/** ts-morph's files and the compiler it bundles, as Node loads them. */
const compilerFiles = (): ReadonlySet<string> => {
  try {
    const tsMorph = createRequire(import.meta.url).resolve("ts-morph")
    const common = createRequire(tsMorph).resolve("@ts-morph/common")
    return new Set([tsMorph, common, createRequire(common).resolve("./typescript.js")])
  } catch {
    return new Set()
  }
}

const SUFFIX = ".v8-code-cache"

/**
 * The cache of a file's version: by its size, modification time and inode, not a hash of its
 * 12 MB (a hash costs 30-100 ms per check); V8 rejects a cache whose source differs anyway.
 */
const cacheFileOf = (dir: string, filename: string): string => {
  const stat = fs.statSync(filename)
  const version = ModuleCache.sha256(JSON.stringify([process.version, stat.size, stat.mtimeMs, stat.ino])).slice(0, 24)
  return path.join(dir, `${path.basename(filename, ".js")}-${version}${SUFFIX}`)
}

type CompileHook = (this: Module & { paths: Array<string> }, content: string, filename: string) => unknown

/** Makes the compiler's file load through a code cache; nothing without a usable cache directory. */
export const install = (): void => {
  const dir = ModuleCache.directory()
  const targets = compilerFiles()
  if (dir === undefined || targets.size === 0 || installed) return
  installed = true
  const proto = Module.prototype as unknown as { _compile: CompileHook }
  const original = proto._compile
  proto._compile = function (content, filename) {
    if (!targets.has(filename)) return original.call(this, content, filename)
    const file = cacheFileOf(dir, filename)
    let cachedData: Buffer | undefined
    try {
      cachedData = fs.readFileSync(file)
    } catch {
      // first time
    }
    const script = new vm.Script(Module.wrap(content), { filename, ...(cachedData ? { cachedData } : {}) })
    loaded.push({ script, file })
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void
    wrapper.call(this.exports, this.exports, createRequire(filename), this, filename, path.dirname(filename))
    return undefined
  }
}

/** The caches of other versions of the same file (an upgraded compiler, another Node): left behind otherwise, 10 MB each. */
const otherVersions = (file: string): Array<string> => {
  const name = path.basename(file)
  const prefix = name.slice(0, name.length - `-${"0".repeat(24)}${SUFFIX}`.length)
  const own = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-[0-9a-f]{24}${SUFFIX.replace(".", "\\.")}$`)
  try {
    return fs.readdirSync(path.dirname(file)).filter((f) => f !== name && own.test(f)).map((f) => path.join(path.dirname(file), f))
  } catch {
    return []
  }
}

/**
 * Writes the code V8 has compiled so far, once the checks ran, unless the cache it started
 * from was accepted, and removes the caches of the file's other versions; a cache that
 * cannot be written costs speed only.
 */
export const save = (): void => {
  for (const { script, file } of loaded) {
    if (script.cachedDataRejected === false) continue
    try {
      ModuleCache.writeAtomic(file, script.createCachedData())
      for (const old of otherVersions(file)) fs.rmSync(old, { force: true })
    } catch {
      // see above
    }
  }
}
