/**
 * Emits the engine's public type declarations into dist/types/ (index.d.ts and the files it
 * refers to), for the static checks of pipeline modules (compiler/analysis/): a module that
 * imports "zephyr" is type-checked against these few small .d.ts files instead of the
 * engine's hundred TypeScript sources, which the checker would otherwise parse and check.
 *
 * Emitting costs a type-check of the engine (about 10 s of CPU), so it is skipped while
 * nothing it read changed: dist/types/inputs.json lists every engine source the emit's
 * program held, with their hashes, and the compiler's version.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"

/** Bump when the emitted files change shape (options, layout). */
const FORMAT = 1

/** ts-morph pins the TypeScript it bundles: its version names the compiler without loading it. */
const compilerVersion = () => `ts-morph ${JSON.parse(fs.readFileSync(createRequire(import.meta.url).resolve("ts-morph/package.json"), "utf8")).version}`

const sha256 = (data) => createHash("sha256").update(data).digest("hex")

const inputsFile = (outdir) => path.join(outdir, "inputs.json")

const readInputs = (outdir) => {
  try {
    return JSON.parse(fs.readFileSync(inputsFile(outdir), "utf8"))
  } catch {
    return undefined
  }
}

const hashOf = (file) => {
  try {
    return sha256(fs.readFileSync(file))
  } catch {
    return undefined
  }
}

/** True when dist/types is missing or any source it was emitted from changed. */
export const stale = (root, outdir) => {
  const inputs = readInputs(outdir)
  if (!inputs || inputs.format !== FORMAT || !fs.existsSync(path.join(outdir, "index.d.ts"))) return true
  if (inputs.compiler !== compilerVersion()) return true
  return inputs.files.some((f) => hashOf(path.join(root, f.path)) !== f.sha256)
}

/** Emits dist/types unless it is fresh; returns whether it emitted. */
export const emit = async (root, outdir) => {
  if (!stale(root, outdir)) return false
  const { ts } = await import("ts-morph")
  const configFile = path.join(root, "tsconfig.json")
  const config = ts.readConfigFile(configFile, ts.sys.readFile)
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, "\n"))
  // Only the options: the include list (tests, benches) is not the engine.
  const parsed = ts.parseJsonConfigFileContent({ ...config.config, include: [], files: [] }, ts.sys, root, undefined, configFile)
  const options = {
    ...parsed.options,
    noEmit: false,
    declaration: true,
    emitDeclarationOnly: true,
    noUnusedLocals: false,
    rootDir: root,
    outDir: outdir
  }
  const program = ts.createProgram([path.join(root, "index.ts")], options)
  const emitted = new Map()
  // From index.ts, each file the emitted declarations import: the engine's public surface.
  const queue = [path.join(root, "index.ts")]
  const seen = new Set(queue)
  while (queue.length > 0) {
    const file = queue.shift()
    const result = program.emit(program.getSourceFile(file), (name, text) => {
      emitted.set(name, text)
      for (const m of text.matchAll(/(?:from |import\()"(\.{1,2}\/[^"]+)"/g)) {
        const target = path.resolve(path.dirname(file), m[1])
        if (!seen.has(target) && fs.existsSync(target)) {
          seen.add(target)
          queue.push(target)
        }
      }
    }, undefined, true)
    if (result.emitSkipped) throw new Error(`Could not emit the declarations of ${path.relative(root, file)}`)
  }
  // Written beside, then swapped in: a reader never sees half of them.
  const tmp = `${outdir}.${process.pid}.tmp`
  fs.rmSync(tmp, { recursive: true, force: true })
  for (const [name, text] of emitted) {
    const target = path.join(tmp, path.relative(outdir, name))
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, text)
  }
  const engineFiles = program.getSourceFiles()
    .map((sf) => sf.fileName)
    .filter((f) => !f.includes("/node_modules/") && f.startsWith(root + path.sep))
  const files = [...engineFiles, configFile, path.join(root, "package.json")]
    .map((f) => ({ path: path.relative(root, f), sha256: hashOf(f) }))
    .sort((a, b) => a.path.localeCompare(b.path))
  fs.writeFileSync(inputsFile(tmp), JSON.stringify({ format: FORMAT, compiler: compilerVersion(), files }, null, 1) + "\n")
  fs.rmSync(outdir, { recursive: true, force: true })
  fs.renameSync(tmp, outdir)
  return true
}
