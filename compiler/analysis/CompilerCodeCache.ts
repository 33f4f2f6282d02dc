import { isAscii } from "node:buffer"
import * as fs from "node:fs"
import Module, { createRequire } from "node:module"
import * as path from "node:path"
import * as CodeCache from "../../runtime/CodeCache.ts"
import * as ModuleCache from "../ModuleCache.ts"

/**
 * The TypeScript compiler and ts-morph through a V8 code cache (CodeCache): 12 MB of
 * JavaScript that V8 would otherwise parse and compile again in every process that checks a
 * module. The analysis thread installs it before it loads ts-morph; after the checks, `save`
 * writes the code V8 compiled meanwhile (the parser, binder and checker functions the checks
 * ran), and the next check starts from it.
 */

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

type CompileHook = (this: Module & { paths: Array<string> }, content: string, filename: string) => unknown
type LoadHook = (module: Module & { _compile: (content: string, filename: string) => unknown }, filename: string) => unknown

/**
 * The text of a compiler file: latin1 when it is all ASCII (TypeScript's 9 MB are), which is
 * the same string and decodes in half the time of UTF-8 (100 ms less here, in a thread that
 * loads it while the command loads the engine).
 */
export const readSource = (filename: string): string => {
  const bytes = fs.readFileSync(filename)
  return bytes.toString(isAscii(bytes) ? "latin1" : "utf8")
}

/** Makes the compiler's files load through a code cache; nothing without a usable cache directory. */
export const install = (): void => {
  const targets = compilerFiles()
  if (ModuleCache.directory() === undefined || targets.size === 0 || installed) return
  installed = true
  const extensions = (Module as unknown as { _extensions: Record<string, LoadHook> })._extensions
  const load = extensions[".js"]!
  extensions[".js"] = function (module, filename) {
    if (!targets.has(filename)) return load.call(this, module, filename)
    return module._compile(readSource(filename), filename)
  }
  const proto = Module.prototype as unknown as { _compile: CompileHook }
  const original = proto._compile
  proto._compile = function (content, filename) {
    if (!targets.has(filename)) return original.call(this, content, filename)
    const wrapper = CodeCache.compile(filename, Module.wrap(content)).runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void
    wrapper.call(this.exports, this.exports, createRequire(filename), this, filename, path.dirname(filename))
    return undefined
  }
}

/** Writes the code compiled since, unless the caches it started from were accepted (see CodeCache.save). */
export const save = (): void => CodeCache.save()
