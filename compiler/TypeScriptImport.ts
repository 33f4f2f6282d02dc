import * as fs from "node:fs"
import { builtinModules, createRequire, findSourceMap } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as ExternalImport from "../runtime/ExternalImport.ts"
import * as PackageRoot from "../runtime/PackageRoot.ts"
import * as ModuleCache from "./ModuleCache.ts"
import * as PackageSpecifier from "./PackageSpecifier.ts"

/**
 * Imports a pipeline module written in TypeScript. esbuild compiles the module and the
 * local files it imports into one ES module, in this thread, and Node imports that: no
 * loader hooks (which Node 20 runs on a thread of their own that every process would have
 * to start, costing more than the rest of a worker's start-up). Packages stay outside the
 * bundle and are imported by their resolved paths, so `import "zephyr"` is the engine this
 * process already runs. A source map points stack traces, and so the source lines the DSL
 * records, at the original files; `import.meta.url`, `.dirname` and `.filename` keep naming
 * each original file. The same file imported twice is the same module, as with `import`.
 * Compiled modules are kept in the user's ModuleCache, so the other processes of a run (and
 * the next run) skip the compile.
 */
const modules = new Map<string, Promise<Record<string, unknown>>>()

/** Without a usable cache, compiled modules live (briefly) under directories with this prefix. */
const outputPrefix = path.join(os.tmpdir(), "zephyr-module-")

/** The compiled files this process imported. */
const compiledFiles = new Set<string>()

/**
 * The local files each imported module was built from, with content hashes (and the
 * configuration files that steered its compile, which the ModuleCache checks too).
 */
const built = new Map<string, ReadonlyArray<ModuleCache.SourceFile>>()

/**
 * The local source files `file` was built from (path relative to the module's directory →
 * hash of the content that was compiled): the stage fingerprints hash them with the files
 * the DSL calls import by relative path (CodeHash.ofStages), so a file esbuild reached
 * another way counts too. Undefined before it is imported.
 */
export const sources = (file: string): Readonly<Record<string, string>> | undefined => {
  const files = built.get(path.resolve(file))
  if (files === undefined) return undefined
  const entries = files.filter((f) => !f.config).map((f) => [path.relative(path.dirname(path.resolve(file)), f.path).split(path.sep).join("/"), f.sha256.slice(0, 32)] as const)
  return Object.fromEntries(entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}

/**
 * The original file, line and column (1-based) of a position in a file, from the source map
 * Node loaded for it (with source maps on, as this loader turns them on: its compiled modules,
 * and any other file that names a map, such as tsx's output), as Node's own stack formatting
 * maps it; undefined when Node has none.
 */
export const sourceMapped = (file: string, line: number, column: number): { file: string; line: number; column: number } | undefined => {
  const entry = findSourceMap(file.startsWith("file://") ? file : pathToFileURL(file).href)?.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined
  if (!entry?.originalSource || entry.originalLine === undefined || entry.originalColumn === undefined) return undefined
  const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : path.resolve(path.dirname(file), entry.originalSource)
  return { file: source, line: entry.originalLine + 1, column: entry.originalColumn + 1 }
}

/**
 * The original position of a position in a module this loader compiled, for stack traces
 * formatted without Node's source maps (a test runner's own formatting); undefined for any
 * other file.
 */
export const originalPosition = (file: string, line: number, column: number): { file: string; line: number; column: number } | undefined =>
  compiledFiles.has(file) ? sourceMapped(file, line, column) : undefined

const typeScript = /\.[cm]?tsx?$/

export const importModule = (file: string): Promise<Record<string, unknown>> => {
  let loaded = modules.get(file)
  if (!loaded) {
    loaded = typeScript.test(file) ? compileAndImport(file) : importJavaScript(file)
    modules.set(file, loaded)
    loaded.catch(() => modules.delete(file))
  }
  return loaded
}

const builtins = new Set(builtinModules)
const loaders: Record<string, "ts" | "tsx" | "jsx"> = { ".ts": "ts", ".mts": "ts", ".cts": "ts", ".tsx": "tsx", ".jsx": "jsx" }
const RESOLVING = Symbol.for("zephyr/TypeScriptImport/resolving")

/** A JavaScript module is imported as it is; only its own file is hashed (its imports are Node's). */
const importJavaScript = async (file: string): Promise<Record<string, unknown>> => {
  try {
    built.set(path.resolve(file), [{ path: path.resolve(file), sha256: ModuleCache.sha256(fs.readFileSync(file)) }])
  } catch { /* the import reports it */ }
  return ExternalImport.load(pathToFileURL(file).href)
}

const compileAndImport = async (file: string): Promise<Record<string, unknown>> => {
  const cacheDir = ModuleCache.directory()
  const key = ModuleCache.keyOf(file)
  const cached = cacheDir === undefined ? undefined : ModuleCache.lookup(cacheDir, key)
  const resolved = path.resolve(file)
  if (cached !== undefined) {
    // A package the compile resolved may have moved since: that fails at link time, before
    // any of the module's code ran, and a fresh compile resolves it again.
    const mod = await importCompiled(cached.module).catch((e: { code?: unknown }) => {
      if (e?.code === "ERR_MODULE_NOT_FOUND") return undefined
      throw e
    })
    if (mod !== undefined) {
      built.set(resolved, cached.files)
      return mod
    }
  }
  const dir = cacheDir ?? fs.mkdtempSync(outputPrefix)
  try {
    const outfile = cacheDir !== undefined ? ModuleCache.outputFile(cacheDir, key) : path.join(dir, `${path.basename(file).replace(typeScript, "")}.mjs`)
    const { code, files } = await compile(file, outfile)
    built.set(resolved, files)
    // Imported before it is published: processes compiling the same module at once (a run's
    // driver and its workers on a cold cache) each publish theirs, removing the one before.
    if (cacheDir === undefined || !ModuleCache.writeModule(outfile, code)) fs.writeFileSync(outfile, code)
    const mod = await importCompiled(outfile)
    if (cacheDir !== undefined) ModuleCache.publish(cacheDir, key, outfile, files)
    return mod
  } finally {
    if (cacheDir === undefined) fs.rmSync(dir, { recursive: true, force: true })
  }
}

const importCompiled = (outfile: string): Promise<Record<string, unknown>> => {
  compiledFiles.add(outfile)
  process.setSourceMapsEnabled(true)
  return ExternalImport.load(pathToFileURL(outfile).href)
}

/**
 * `import ... from "effect"` in a pipeline module loads the engine's own Effect (through its
 * facade dist/effect.js, see runtime/EffectLibrary.ts) instead of Effect's few hundred ES
 * modules, when it resolves to the very package the engine was built from; `effect/Schema`
 * and the other subpaths become a small module that re-exports that namespace of it.
 */
const EFFECT_MODULE = "zephyr-effect"
const effectBuild = path.join(PackageRoot.dist, "effect.js")
let engineEffect: string | null | undefined

const bundledEffect = (specifier: string, resolvedPath: string): { path: string; external?: boolean; namespace?: string } | undefined => {
  const m = /^effect(?:\/(\w+))?$/.exec(specifier)
  if (!m) return undefined
  if (engineEffect === undefined) {
    try {
      engineEffect = path.dirname(createRequire(path.join(PackageRoot.root, "package.json")).resolve("effect/package.json")) + path.sep
    } catch {
      engineEffect = null
    }
  }
  if (engineEffect === null || !resolvedPath.startsWith(engineEffect) || !fs.existsSync(effectBuild)) return undefined
  const sub = m[1]
  if (sub === undefined || sub === "index") return { path: pathToFileURL(effectBuild).href, external: true }
  return { path: sub, namespace: EFFECT_MODULE }
}

const effectModule = async (name: string): Promise<string> => {
  const library = (await ExternalImport.load(pathToFileURL(effectBuild).href)) as Record<string, Record<string, unknown> | undefined>
  const namespace = library[name]
  if (typeof namespace !== "object" || namespace === null) throw new Error(`effect/${name} is not a module of the Effect library`)
  const names = Object.keys(namespace).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n))
  return [
    `import { ${name} as namespace } from ${JSON.stringify(pathToFileURL(effectBuild).href)}`,
    ...names.map((n, i) => `const _${i} = namespace.${n}`),
    `export { ${names.map((n, i) => `_${i} as ${n}`).join(", ")} }`
  ].join("\n")
}

/**
 * The files that steer how esbuild resolves and compiles a module besides the sources:
 * every tsconfig.json and package.json from the module's directory up.
 */
const resolutionConfig = (file: string): Array<ModuleCache.SourceFile> => {
  const out: Array<ModuleCache.SourceFile> = []
  for (let dir = path.dirname(path.resolve(file)); ; dir = path.dirname(dir)) {
    for (const name of ["tsconfig.json", "package.json"]) {
      const candidate = path.join(dir, name)
      try {
        out.push({ path: candidate, sha256: ModuleCache.sha256(fs.readFileSync(candidate)), config: true })
      } catch {
        // absent here
      }
    }
    if (path.dirname(dir) === dir) return out
  }
}

/** Compiles `file` and the local files it imports into one ES module, and lists what it read. */
const compile = async (file: string, outfile: string): Promise<{ readonly code: Uint8Array; readonly files: ReadonlyArray<ModuleCache.SourceFile> }> => {
  const esbuild = await ExternalImport.load<typeof import("esbuild")>("esbuild")
  const files: Array<ModuleCache.SourceFile> = []
  const result = await esbuild.build({
    entryPoints: [file],
    outfile,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "inline",
    sourcesContent: false,
    write: false,
    logLevel: "silent",
    plugins: [{
      name: "zephyr-pipeline-module",
      setup(build) {
        // Packages are imported from where they are installed, not copied into the module.
        build.onResolve({ filter: /^[^./]/ }, async (args) => {
          if (args.pluginData === RESOLVING) return undefined
          if (args.path.startsWith("file:")) return { path: args.path, external: true }
          const name = args.path.startsWith("node:") ? args.path.slice(5) : args.path
          if (builtins.has(name) || builtins.has(name.split("/")[0]!)) return { path: args.path, external: true }
          const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: RESOLVING })
          if (resolved.errors.length > 0) {
            // Most often a module written outside the project that installed the package.
            const pkg = PackageSpecifier.packageName(args.path)
            const hint = `: no ${pkg} package is installed where ${path.basename(args.importer)} can import it; install it in the module's project (npm install ${pkg}), or move the module into a project that has it`
            return { errors: resolved.errors.map((e) => (e.text.startsWith("Could not resolve") ? { ...e, text: e.text + hint } : e)) }
          }
          const effect = bundledEffect(args.path, resolved.path)
          if (effect !== undefined) return effect
          return { path: pathToFileURL(resolved.path).href, external: true }
        })
        build.onLoad({ filter: /.*/, namespace: EFFECT_MODULE }, async (args) => ({ contents: await effectModule(args.path), loader: "js" }))
        // Each local file keeps its own import.meta, as if it had been imported itself.
        build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
          const source = await fs.promises.readFile(args.path, "utf8")
          files.push({ path: args.path, sha256: ModuleCache.sha256(source) })
          const contents = !source.includes("import.meta") ? source : source
            .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href))
            .replaceAll("import.meta.dirname", JSON.stringify(path.dirname(args.path)))
            .replaceAll("import.meta.filename", JSON.stringify(args.path))
          return { contents, loader: loaders[path.extname(args.path)] ?? "js" }
        })
        // Data files bundled with the module count for the cache like its sources.
        build.onLoad({ filter: /\.(json|txt)$/ }, async (args) => {
          const contents = await fs.promises.readFile(args.path)
          files.push({ path: args.path, sha256: ModuleCache.sha256(contents) })
          return { contents, loader: args.path.endsWith(".json") ? "json" : "text" }
        })
      }
    }]
  }).catch((e: { errors?: ReadonlyArray<{ text: string; location: { file: string; line: number; column: number } | null }> }) => {
    const first = e.errors?.[0]
    if (!first) throw e
    const where = first.location ? `${first.location.file}:${first.location.line}:${first.location.column + 1}: ` : ""
    throw new Error(`${where}${first.text}`)
  })
  return { code: result.outputFiles[0]!.contents, files: [...files, ...resolutionConfig(file)] }
}
