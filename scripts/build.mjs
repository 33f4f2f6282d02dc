#!/usr/bin/env node
/**
 * Builds the engine into dist/ as plain JavaScript, so no process pays for compiling the
 * engine's TypeScript or for resolving Effect's few hundred ES modules one by one: Node
 * spends seconds on both. Only the user's pipeline module goes through the TypeScript loader.
 *
 * The entry points share chunks (code splitting), so a pipeline module's `import "zephyr"`
 * (dist/index.js through the package's `exports`) and the CLI (dist/cli.js) or a local
 * worker process (dist/worker.js, without the command-line parser) load one engine, not two
 * copies of it. dist/effect.js is all of Effect in one file, built on its own (sharing the
 * engine's chunks would pull every Effect module into the engine's start-up): a pipeline
 * module that imports "effect" loads that instead of Effect's few hundred ES modules.
 * dist/types/ holds the engine's public declarations for the static checks of pipeline
 * modules (scripts/declarations.mjs; emitted again only when an engine source changed). Runs
 * on `npm ci` (the `prepare` script) and before `npm test`.
 *
 *   node scripts/build.mjs          write dist/
 *   node scripts/build.mjs --check  exit 1 if dist/ differs from a fresh build of the sources
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Declarations from "./declarations.mjs"

export const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
export const outdir = path.join(root, "dist")
export const typesdir = path.join(outdir, "types")

/**
 * Packages that find files next to their own code at run time (a .wasm, a native add-on,
 * loader hooks) stay outside the bundle and load from node_modules.
 */
const external = ["tsx", "tsx/*", "esbuild", "msgpackr", "@bokuweb/zstd-wasm", "@duckdb/*", "ts-morph", "typescript"]
// The Kubernetes client (15 MB bundled) loads from node_modules, and only when a kubernetes pool starts.
external.push("@kubernetes/client-node")

/** Libraries the engine never calls, replaced by a module that says so (see the stub). */
const configFileParsers = path.join(root, "scripts", "stubs", "config-file-parsers.mjs")
const alias = { yaml: configFileParsers, toml: configFileParsers, ini: configFileParsers }

/**
 * ts-morph (CommonJS) loads through require(), not as an ES module import: Node would scan
 * its source for export names (cjs-module-lexer) and check its format first, about 0.3 s of
 * every static check's start-up.
 */
const tsMorphByRequire = {
  name: "ts-morph-by-require",
  setup(build) {
    build.onResolve({ filter: /^ts-morph$/ }, (args) =>
      args.namespace === "ts-morph-by-require" ? { path: "ts-morph", external: true } : { path: "ts-morph", namespace: "ts-morph-by-require" })
    build.onLoad({ filter: /.*/, namespace: "ts-morph-by-require" }, () => ({ contents: "module.exports = require(\"ts-morph\")", loader: "js" }))
  }
}

/** The esbuild options; `write: false` builds in memory (the freshness check). */
export const options = (write) => ({
  absWorkingDir: root,
  entryPoints: { index: "index.ts", cli: "cli/main.ts", worker: "runtime/worker/LocalWorkerProcess.ts", "early-workers": "cli/EarlyWorkers.ts", "analysis-thread": "compiler/analysis/Thread.ts", "early-checks": "cli/EarlyChecks.ts", "worker-command": "cli/WorkerProgram.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external,
  alias,
  // Bundled CommonJS dependencies call require(); give each chunk one.
  banner: { js: "import { createRequire as __zephyrRequire } from \"node:module\"; const require = __zephyrRequire(import.meta.url);" },
  // Lines and identifiers stay as written: stack traces (and the source line Node prints
  // for an uncaught error) stay readable.
  chunkNames: "chunks/[name]-[hash]",
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  plugins: [tsMorphByRequire],
  write
})

/** Effect as one module (see runtime/EffectLibrary.ts). */
export const effectOptions = (write) => ({
  absWorkingDir: root,
  entryPoints: { effect: "runtime/EffectLibrary.ts" },
  outdir,
  bundle: true,
  format: "esm",
  platform: "node",
  target: "node20",
  legalComments: "none",
  logLevel: "warning",
  write
})

export const build = async (write = true) => {
  const [engine, effect] = await Promise.all([esbuild.build(options(write)), esbuild.build(effectOptions(write))])
  return { ...engine, outputFiles: [...(engine.outputFiles ?? []), ...(effect.outputFiles ?? [])] }
}

/** Files of a fresh in-memory build that differ from (or are missing in) dist/, and stale extras. */
export const staleFiles = async () => {
  const result = await build(false)
  const stale = []
  const fresh = new Set()
  for (const file of result.outputFiles) {
    fresh.add(file.path)
    const current = fs.existsSync(file.path) ? fs.readFileSync(file.path) : undefined
    if (!current || !Buffer.from(file.contents).equals(current)) stale.push(path.relative(root, file.path))
  }
  const walk = (dir) => fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]) : []
  for (const file of walk(outdir)) if (file.endsWith(".js") && !fresh.has(file)) stale.push(path.relative(root, file))
  if (Declarations.stale(root, typesdir)) stale.push(path.relative(root, typesdir))
  return stale
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes("--check")) {
    const stale = await staleFiles()
    if (stale.length > 0) {
      process.stderr.write(`dist/ does not match the sources (${stale.join(", ")}): run npm run build\n`)
      process.exit(1)
    }
  } else {
    // The declarations stay: they are emitted again only when their sources changed.
    for (const entry of fs.existsSync(outdir) ? fs.readdirSync(outdir) : []) {
      if (entry !== "types") fs.rmSync(path.join(outdir, entry), { recursive: true, force: true })
    }
    await Promise.all([build(true), Declarations.emit(root, typesdir)])
  }
}
