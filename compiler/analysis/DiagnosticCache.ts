import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import packageJson from "../../package.json" with { type: "json" }
import * as PackageRoot from "../../runtime/PackageRoot.ts"
import * as ModuleCache from "../ModuleCache.ts"
import type { Finding } from "./Finding.ts"

/**
 * The findings of a module's checks, kept in the user's private module cache (ModuleCache)
 * so that a module checked once is not checked again, and the TypeScript compiler is not
 * even loaded, until one of its files changes: `zephyr run` and `zephyr compile` then cost
 * a lookup (a read and a hash of each local file).
 *
 * An entry is keyed by the modules checked and the versions of Zephyr, its declarations and
 * the compiler (not by args: findings are about the code, and name the DSL calls by their
 * location, which Check matches to the plan at hand). It holds the files the result
 * depends on (the module's local files and its tsconfig.json) with a SHA-256 of each as the
 * analysis read it, and is valid only while they all hash the same.
 *
 *   <dir>/<key>.diagnostics.json   { files: [{ path, sha256 }], findings: [...] }
 *
 * (No Effect here: `zephyr` looks the cache up before it loads the engine; see Analysis.)
 */

/** Bump when the checks change what they find. */
const FORMAT = 1

interface Entry {
  readonly files: ReadonlyArray<{ readonly path: string; readonly sha256: string }>
  readonly findings: ReadonlyArray<Finding>
}

/** An entry as this version writes it (a cache from another version has another key). */
const isEntry = (u: unknown): u is Entry => {
  const e = u as Entry
  return typeof e === "object" && e !== null && Array.isArray(e.files) && Array.isArray(e.findings) &&
    e.files.every((f) => typeof f?.path === "string" && typeof f?.sha256 === "string") &&
    e.findings.every((f) => typeof f?.code === "string" && typeof f?.message === "string" && typeof f?.file === "string" && typeof f?.line === "number")
}

const readText = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

let versions: string | undefined
/** Zephyr's, the compiler's (ts-morph pins it) and the engine declarations' (their inputs' hashes). */
const versionsOf = (): string => {
  if (versions === undefined) {
    let compiler = "unknown"
    try {
      compiler = (JSON.parse(fs.readFileSync(createRequire(import.meta.url).resolve("ts-morph/package.json"), "utf8")) as { version: string }).version
    } catch {
      // not installed: the analysis will say so
    }
    const declarations = readText(path.join(PackageRoot.dist, "types", "inputs.json")) ?? ""
    versions = JSON.stringify([FORMAT, packageJson.version, compiler, ModuleCache.sha256(declarations)])
  }
  return versions
}

export const keyOf = (entries: ReadonlyArray<string>): string => ModuleCache.sha256(JSON.stringify([versionsOf(), entries])).slice(0, 32)

const entryFile = (dir: string, key: string) => path.join(dir, `${key}.diagnostics.json`)

/** The cached findings, when every file they depend on is unchanged. */
export const lookup = (key: string): ReadonlyArray<Finding> | undefined => {
  const dir = ModuleCache.directory()
  const text = dir === undefined ? undefined : readText(entryFile(dir, key))
  if (text === undefined) return undefined
  let entry: unknown
  try {
    entry = JSON.parse(text)
  } catch {
    return undefined
  }
  if (!isEntry(entry)) return undefined
  for (const f of entry.files) {
    const content = readText(f.path)
    if (content === undefined || ModuleCache.sha256(content) !== f.sha256) return undefined
  }
  return entry.findings
}

/** Records a result; `files` with the text the analysis read. A cache that cannot be written costs a check next time. */
export const store = (key: string, files: ReadonlyArray<{ readonly path: string; readonly text: string }>, findings: ReadonlyArray<Finding>): void => {
  const dir = ModuleCache.directory()
  if (dir === undefined) return
  const entry: Entry = { files: files.map((f) => ({ path: f.path, sha256: ModuleCache.sha256(f.text) })), findings }
  try {
    ModuleCache.writeAtomic(entryFile(dir, key), JSON.stringify(entry))
  } catch {
    // see above
  }
}
