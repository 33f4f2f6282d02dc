#!/usr/bin/env node
/**
 * Builds the engine into dist/ as plain JavaScript, so no process pays for compiling the
 * engine's TypeScript or for resolving Effect's few hundred ES modules one by one: Node
 * spends seconds on both. Only the user's pipeline module goes through the TypeScript loader.
 *
 * The engine is one CommonJS bundle, dist/engine.cjs (see `engineOptions`), which
 * runtime/EngineLoader loads through a V8 code cache; dist/index.js (a pipeline module's
 * `import "zephyr"`, through the package's `exports`), cli.js, worker.js and worker-command.js
 * are facades over it, so a process loads one engine, not two copies of it. The entries that
 * run before it loads are small ES modules (see `options`). dist/effect.js is the engine's
 * Effect, for a pipeline module that imports "effect": one Effect per process, from the
 * bundle, instead of Effect's few hundred ES modules.
 * dist/types/ holds the engine's public declarations for the static checks of pipeline
 * modules (scripts/declarations.mjs; emitted again only when an engine source changed). Runs
 * on `npm ci` (the `prepare` script) and before `npm test`.
 *
 *   node scripts/build.mjs          write dist/
 *   node scripts/build.mjs --check  exit 1 if dist/ differs from a fresh build of the sources
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs"
import Module, { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Declarations from "./declarations.mjs"

export const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
export const outdir = path.join(root, "dist")
export const typesdir = path.join(outdir, "types")

/**
 * Packages that find files next to their own code at run time (a .wasm, a native add-on,
 * loader hooks) stay outside the bundle and load from node_modules. msgpackr itself is
 * bundled, so the engine's code cache covers it (Node 20 compiles a package loaded by
 * require() again in every process); its optional native string decoder, msgpackr-extract,
 * loads from node_modules when present.
 */
const external = ["tsx", "tsx/*", "esbuild", "msgpackr-extract", "@bokuweb/zstd-wasm", "@duckdb/*", "ts-morph", "typescript"]
// The Kubernetes client (15 MB bundled) loads from node_modules, and only when a kubernetes pool starts.
external.push("@kubernetes/client-node")

/**
 * fdir (under tinyglobby) loads picomatch from node_modules by a require of its own at its
 * top level, for a `glob` option the engine does not use (tinyglobby matches with the
 * picomatch it imports, which is bundled): a second copy of picomatch, resolved, read and
 * compiled without a code cache in every process. The build fails if fdir's code no longer
 * reads as expected.
 */
const fdirWithoutPicomatch = {
  name: "fdir-without-picomatch",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]fdir[\\/]dist[\\/]index\.mjs$/ }, (args) => {
      const text = fs.readFileSync(args.path, "utf8")
      const load = /__require\.resolve\("picomatch"\);\s*pm = __require\("picomatch"\);/
      if (!load.test(text)) throw new Error(`${args.path} no longer loads picomatch as scripts/build.mjs expects: check fdirWithoutPicomatch`)
      return { contents: text.replace(load, ""), loader: "js" }
    })
  }
}

/**
 * msgpackr (node-index.js) loads its native string decoder, msgpackr-extract, at its top level:
 * 20–40 ms of every process's start (the require, and node-gyp-build asking detect-libc which
 * libc this is) for a decoder that pays off only on large blocks: shuffle and result files,
 * 15–35% faster to decode. Here the load waits for `loadNativeAcceleration()`, which
 * BlockFile calls when it first reads blocks; the RPC frames decode fast enough without it.
 * The build fails if msgpackr's code no longer reads as expected.
 */
const msgpackrNativeOnDemand = {
  name: "msgpackr-native-on-demand",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]msgpackr[\\/]node-index\.js$/ }, (args) => {
      const text = fs.readFileSync(args.path, "utf8")
      const eager = /\nif \(!nativeAccelerationDisabled\) \{\n(\tlet extractor\n\ttry \{[\s\S]*?setExtractor\(extractor\.extractStrings\)\n\t\} catch \(error\) \{\n\t\t\/\/ native module is optional\n\t\})\n\}/
      const found = eager.exec(text)
      if (!found) throw new Error(`${args.path} no longer loads msgpackr-extract as scripts/build.mjs expects: check msgpackrNativeOnDemand`)
      const onDemand = `\nlet nativeAccelerationTried = false\nexport const loadNativeAcceleration = () => {\n\tif (nativeAccelerationTried || nativeAccelerationDisabled) return\n\tnativeAccelerationTried = true\n${found[1]}\n}`
      return { contents: text.replace(eager, () => onDemand), loader: "js" }
    })
  }
}

/**
 * Effect's Utils module asks, at its top level, whether V8 keeps the frame of a wrapper
 * function, by reading `new Error().stack`. Formatting a stack gives every frame its line,
 * and for a frame in dist/engine.cjs V8 first indexes the lines of the whole 4.6 MB bundle:
 * about 350 page faults and 10-20 ms of every process (the command and each worker), for
 * one boolean. Here the same question is asked of the stack's raw call sites (function
 * names, no lines), with the same answer. The build fails if Effect's code no longer reads
 * as expected.
 */
const effectFrameCheckWithoutLines = {
  name: "effect-frame-check-without-lines",
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]effect[\\/]dist[\\/]esm[\\/]Utils\.js$/ }, (args) => {
      const text = fs.readFileSync(args.path, "utf8")
      const check = "standard.effect_internal_function(() => new Error().stack)?.includes(\"effect_internal_function\") === true"
      if (!text.includes(check)) throw new Error(`${args.path} no longer checks its frames as scripts/build.mjs expects: check effectFrameCheckWithoutLines`)
      const names = `
function __zephyrFrameNames() {
  const prepare = Error.prepareStackTrace
  Error.prepareStackTrace = (_, sites) => sites.map((site) => site.getFunctionName()).join("\\n")
  try {
    return new Error().stack
  } finally {
    Error.prepareStackTrace = prepare
  }
}
`
      return { contents: text.replace(check, () => "standard.effect_internal_function(__zephyrFrameNames)?.includes(\"effect_internal_function\") === true") + names, loader: "js" }
    })
  }
}

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

/**
 * Libraries only some runs call, each a CommonJS bundle of its own in dist/vendor/ that the
 * engine requires the first time a run uses it: the AWS SDK (s3:// paths), Parquet and CSV,
 * 1.8 MB of the engine's 6.3 MB. In the engine bundle they cost every process (a worker, the
 * command) reading, compiling and running the top level of code it never calls: importing
 * "zephyr" took 0.51–0.54 s with them, 0.46–0.49 s without (10 alternating runs).
 * One bundle per package name the engine imports (hyparquet's reader and writer each bring
 * their own copy of its few shared functions; no object crosses between them).
 */
export const vendors = [
  { file: "aws-s3.cjs", specifier: "@aws-sdk/client-s3" },
  { file: "hyparquet.cjs", specifier: "hyparquet" },
  { file: "hyparquet-compressors.cjs", specifier: "hyparquet-compressors" },
  { file: "hyparquet-writer.cjs", specifier: "hyparquet-writer" },
  { file: "csv-parse.cjs", specifier: "csv-parse" },
  { file: "csv-stringify-sync.cjs", specifier: "csv-stringify/sync" }
]

/** What the engine and the vendored bundles share: one CommonJS file for Node 20, ASCII (see `asciiOnly`). */
const commonJsBundle = (write) => ({
  absWorkingDir: root,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  external,
  charset: "ascii",
  legalComments: "none",
  logLevel: "warning",
  write
})

const vendorOptions = (write) => vendors.map(({ file, specifier }) => ({
  ...commonJsBundle(write),
  stdin: { contents: `export * from ${JSON.stringify(specifier)}\n`, resolveDir: root, sourcefile: `vendor/${file}` },
  outfile: path.join(outdir, "vendor", file)
}))

/** In the engine, an import of a vendored package is a require() of its bundle, next to the engine's. */
const vendoredByRequire = {
  name: "vendored-by-require",
  setup(build) {
    const bySpecifier = new Map(vendors.map((v) => [v.specifier, `./vendor/${v.file}`]))
    const filter = new RegExp(`^(${vendors.map((v) => v.specifier.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")).join("|")})$`)
    build.onResolve({ filter }, (args) => ({ path: bySpecifier.get(args.path), external: true }))
  }
}

/** How dist/engine.cjs begins and ends: Node's own wrapper of a CommonJS module, as `Module.wrap` writes it. */
export const engineWrapper = Module.wrap("\0").split("\0")

/**
 * The engine: one CommonJS bundle of Engine.ts (dist/engine.cjs), which runtime/EngineLoader
 * loads through a V8 code cache; Node 20 cannot cache an ES module's compile. Lazily imported
 * parts (the dashboard, the S3 store, the Parquet and CSV formats) are in it, but run only when
 * first imported; the libraries behind the last three are in dist/vendor/ (`vendors`).
 */
export const engineOptions = (write) => ({
  ...commonJsBundle(write),
  entryPoints: ["Engine.ts"],
  outfile: path.join(outdir, "engine.cjs"),
  alias,
  // Each engine module sees the bundle's own URL, as it saw its chunk's.
  define: { "import.meta.url": "__zephyrBundleUrl" },
  // The file is the bundle already wrapped as Node wraps a CommonJS module (Module.wrap, on
  // the first line so that line numbers stay), which EngineLoader compiles as it is read: when
  // it wrapped the text itself, V8 copied the 4.6 MB joined string into a flat one before
  // compiling it, 1,100 page faults and about 12 ms in every process.
  banner: { js: `${engineWrapper[0]}var __zephyrBundleUrl = require("node:url").pathToFileURL(__filename).href;` },
  footer: { js: engineWrapper[1] },
  // Lines and identifiers stay as written: stack traces (and the source line Node prints for
  // an uncaught error) stay readable.
  plugins: [vendoredByRequire, fdirWithoutPicomatch, msgpackrNativeOnDemand, effectFrameCheckWithoutLines]
})

/**
 * The small ES modules that start work before the engine loads (the workers and checks a
 * command starts ahead, the analysis thread) and EngineLoader; they share chunks among
 * themselves, and hand over to the engine through process globals (runtime/ProcessGlobal.ts).
 */
export const options = (write) => ({
  absWorkingDir: root,
  entryPoints: { "analysis-thread": "compiler/analysis/Thread.ts", "early-checks": "cli/EarlyChecks.ts", "early-workers": "cli/EarlyWorkers.ts", "engine-loader": "runtime/EngineLoader.ts", "runtime-v8-flags": "runtime/RuntimeV8Flags.ts" },
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
  chunkNames: "chunks/[name]-[hash]",
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  plugins: [tsMorphByRequire],
  write
})

/**
 * The ES modules users and commands import, each a facade over a part of the engine that
 * EngineLoader loads once per process: `import "zephyr"` (dist/index.js, through the
 * package's `exports`), the CLI, a local worker process's program, the plain worker command.
 * Each re-exports every name of its source module.
 */
const facades = [
  { file: "index.js", source: "index.ts", part: "index" },
  { file: "cli.js", source: "cli/main.ts", part: "cli" },
  // A worker process's heap is made by now: its size flags go back to V8's defaults before the
  // engine (and the Node modules it imports) compiles (see runtime/RuntimeV8Flags.ts).
  { file: "worker.js", source: "runtime/worker/LocalWorkerProcess.ts", part: "localWorker", settleHeapSizes: true },
  { file: "worker-command.js", source: "cli/WorkerProgram.ts", part: "workerCommand" },
  // A pipeline module's `import ... from "effect"` (see compiler/TypeScriptImport.ts).
  { file: "effect.js", source: "runtime/EffectLibrary.ts", part: "effect" }
]

/** The names each facade's source module exports: its own file's, and for `export * from "effect"` the package's. */
const facadeNames = async () => {
  const result = await esbuild.build({ absWorkingDir: root, entryPoints: facades.map((f) => f.source), outdir: path.join(root, "out", "facade-names"), bundle: false, format: "esm", platform: "node", write: false, metafile: true, logLevel: "warning" })
  const effect = Object.keys(createRequire(path.join(root, "package.json"))("effect")).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n) && n !== "default" && n !== "__esModule")
  return new Map(facades.map(({ source }) => {
    const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint === source)
    const own = output.exports.filter((n) => n !== "default")
    return [source, source === "runtime/EffectLibrary.ts" ? [...new Set([...own, ...effect])].sort() : own]
  }))
}

const facadeFiles = async () => {
  const namesOf = await facadeNames()
  return facades.map(({ file, source, part, settleHeapSizes }) => {
    const names = namesOf.get(source)
    const engine = `await load().${part}()`
    const text = `// Generated by scripts/build.mjs: ${source} from the engine bundle (see runtime/EngineLoader.ts).\n` +
      // Imported only once the flags are settled: an import's Node modules compile as it is linked.
      (settleHeapSizes
        ? `import { settleHeapSizes } from "./runtime-v8-flags.js"\nsettleHeapSizes()\nconst { load } = await import("./engine-loader.js")\n`
        : `import { load } from "./engine-loader.js"\n`) +
      (names.length > 0 ? `export const { ${names.join(", ")} } = ${engine}\n` : `${engine}\n`)
    return { path: path.join(outdir, file), contents: new TextEncoder().encode(text) }
  })
}

/**
 * The engine bundle as pure ASCII, which EngineLoader reads as latin1: a one-byte string, read
 * in a few milliseconds instead of 0.1 s of UTF-8 decoding. esbuild's ASCII charset escapes
 * every other character in code; it keeps comments as written, so what is left (an arrow in
 * a comment) is escaped here, which means the same wherever it is.
 */
const asciiOnly = (text) => text.replace(/[^\x00-\x7f]/gu, (c) => c.length === 1 ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}` : `\\u{${c.codePointAt(0).toString(16)}}`)

export const build = async (write = true) => {
  const [engine, small, facadeOutputs, ...vendored] = await Promise.all([esbuild.build(engineOptions(false)), esbuild.build(options(write)), facadeFiles(), ...vendorOptions(false).map((o) => esbuild.build(o))])
  const bundles = [engine, ...vendored].flatMap((r) => r.outputFiles).map((f) => ({ path: f.path, contents: new TextEncoder().encode(asciiOnly(f.text)) }))
  if (write) {
    fs.mkdirSync(path.join(outdir, "vendor"), { recursive: true })
    for (const f of [...bundles, ...facadeOutputs]) fs.writeFileSync(f.path, f.contents)
  }
  return { ...small, outputFiles: [...bundles, ...(small.outputFiles ?? []), ...facadeOutputs] }
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
  for (const file of walk(outdir)) if (/\.c?js$/.test(file) && !fresh.has(file)) stale.push(path.relative(root, file))
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
