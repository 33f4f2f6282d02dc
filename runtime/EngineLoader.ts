import * as fs from "node:fs"
import Module, { createRequire } from "node:module"
import * as path from "node:path"
import * as CodeCache from "./CodeCache.ts"
import * as ExternalImport from "./ExternalImport.ts"
import * as PackageRoot from "./PackageRoot.ts"
import { processGlobal } from "./ProcessGlobal.ts"

/**
 * Loads the engine (dist/engine.cjs, one CommonJS bundle of Engine.ts) once per process,
 * through a V8 code cache (CodeCache): an ES module's compile cannot use one on Node 20, and
 * compiling the engine's code again cost every process about 0.1 s of its start (`zephyr run
 * examples/wordcount.ts --workers 2`: 1.47 s before, 1.25 s with the cache). The ES modules
 * users and commands import (dist/index.js, cli.js, worker.js, worker-command.js, effect.js)
 * are thin facades over what this returns, so a pipeline module's `import { Dataset } from
 * "zephyr"` and the command that runs it share one engine.
 */
export type Engine = typeof import("../Engine.ts")

const bundle = path.join(PackageRoot.dist, "engine.cjs")

/** How the bundle begins: the start of `Module.wrap`'s wrapper. */
const WRAPPER = Module.wrap("").slice(0, Module.wrap("").indexOf("{") + 1)

export const load = (): Engine =>
  processGlobal("EngineLoader/engine", () => {
    // A bare name imported by the engine resolves from dist/, as the bundle's own would.
    ExternalImport.lend((specifier) => import(specifier))
    // ASCII (scripts/build.mjs), read as latin1: about 50 ms faster than decoding 6 MB of UTF-8.
    let source: string
    try {
      source = fs.readFileSync(bundle, "latin1")
    } catch (e) {
      // As a missing dist/ module is reported (bin/zephyr.js says to build).
      throw Object.assign(new Error(`Zephyr's engine bundle ${bundle} cannot be read (${(e as { code?: string }).code ?? String(e)}): the build in dist/ is incomplete; run \`npm run build\``), { code: "ERR_MODULE_NOT_FOUND" })
    }
    // The build wrote the bundle wrapped as Node wraps a CommonJS module (scripts/build.mjs).
    if (!source.startsWith(WRAPPER)) throw Object.assign(new Error(`Zephyr's engine bundle ${bundle} was built by another version of the build: run \`npm run build\``), { code: "ERR_MODULE_NOT_FOUND" })
    const script = CodeCache.compile(bundle, source)
    const module = { exports: {} as Engine }
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void
    wrapper.call(module.exports, module.exports, createRequire(bundle), module, bundle, path.dirname(bundle))
    // At exit the cache holds the code this process ran, not only the bundle's top level.
    process.once("exit", CodeCache.save)
    return module.exports
  })
