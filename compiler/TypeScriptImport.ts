import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { builtinModules, findSourceMap } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

/**
 * Imports a pipeline module written in TypeScript. esbuild compiles the module and the
 * local files it imports into one ES module, in this thread, and Node imports that: no
 * loader hooks (which Node 20 runs on a thread of their own that every process would have
 * to start, costing more than the rest of a worker's start-up). Packages stay outside the
 * bundle and are imported by their resolved paths, so `import "zephyr"` is the engine this
 * process already runs. A source map points stack traces, and so the source lines the DSL
 * records, at the original files; `import.meta.url`, `.dirname` and `.filename` keep naming
 * each original file. The same file imported twice is the same module, as with `import`.
 */
const modules = new Map<string, Promise<Record<string, unknown>>>()

/**
 * The local files each imported module was built from (path relative to the module's
 * directory → hash of the content that was compiled), for a resumed run to tell whether the
 * code changed: the plan fingerprint does not cover function bodies.
 */
const sourceHashes = new Map<string, Readonly<Record<string, string>>>()

const hashOf = (content: string | Uint8Array): string => createHash("sha256").update(content).digest("hex").slice(0, 32)

const relativeName = (entry: string, file: string): string => path.relative(path.dirname(entry), file).split(path.sep).join("/")

/** The local source files `file` was built from, with content hashes; undefined before it is imported. */
export const sources = (file: string): Readonly<Record<string, string>> | undefined => sourceHashes.get(file)

/** Compiled modules live (briefly) under directories with this prefix. */
const outputPrefix = path.join(os.tmpdir(), "zephyr-module-")

/**
 * The original file, line and column (1-based) of a position in a compiled module, for
 * stack traces formatted without Node's source maps (a test runner's own formatting);
 * undefined for any other file.
 */
export const originalPosition = (file: string, line: number, column: number): { file: string; line: number; column: number } | undefined => {
  if (!file.startsWith(outputPrefix)) return undefined
  const entry = findSourceMap(pathToFileURL(file).href)?.findEntry(line - 1, column - 1) as { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined
  if (!entry?.originalSource || entry.originalLine === undefined || entry.originalColumn === undefined) return undefined
  const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : path.resolve(path.dirname(file), entry.originalSource)
  return { file: source, line: entry.originalLine + 1, column: entry.originalColumn + 1 }
}

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
    sourceHashes.set(file, { [path.basename(file)]: hashOf(fs.readFileSync(file)) })
  } catch { /* the import reports it */ }
  return import(pathToFileURL(file).href)
}

const compileAndImport = async (file: string): Promise<Record<string, unknown>> => {
  const esbuild = await import("esbuild")
  const hashes: Record<string, string> = {}
  const dir = fs.mkdtempSync(outputPrefix)
  try {
    const outfile = path.join(dir, `${path.basename(file).replace(typeScript, "")}.mjs`)
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
            const name = args.path.startsWith("node:") ? args.path.slice(5) : args.path
            if (builtins.has(name) || builtins.has(name.split("/")[0]!)) return { path: args.path, external: true }
            const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: RESOLVING })
            if (resolved.errors.length > 0) return { errors: resolved.errors }
            return { path: pathToFileURL(resolved.path).href, external: true }
          })
          // Each local file keeps its own import.meta, as if it had been imported itself.
          build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
            const source = await fs.promises.readFile(args.path, "utf8")
            hashes[relativeName(file, args.path)] = hashOf(source)
            const contents = !source.includes("import.meta") ? source : source
              .replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href))
              .replaceAll("import.meta.dirname", JSON.stringify(path.dirname(args.path)))
              .replaceAll("import.meta.filename", JSON.stringify(args.path))
            return { contents, loader: loaders[path.extname(args.path)] ?? "js" }
          })
          // Data files a module imports are part of its source as well.
          build.onLoad({ filter: /\.(json|txt)$/ }, async (args) => {
            const contents = await fs.promises.readFile(args.path)
            hashes[relativeName(file, args.path)] = hashOf(contents)
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
    fs.writeFileSync(outfile, result.outputFiles[0]!.contents)
    sourceHashes.set(file, Object.fromEntries(Object.entries(hashes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))))
    process.setSourceMapsEnabled(true)
    return await import(pathToFileURL(outfile).href)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
