import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import packageJson from "../../package.json" with { type: "json" }
import * as PackageRoot from "../../runtime/PackageRoot.ts"
import * as ModuleCache from "../ModuleCache.ts"
import type { CodeFact } from "./CodeFact.ts"
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
 * analysis read it, and is valid only while they all hash the same. The code facts of
 * explain's advice (CodeFact) are kept in the same entry, once an explain has asked for them:
 * either part may be missing, and an analysis of the same files adds the part it found.
 *
 *   <dir>/<key>.diagnostics.json   { files: [{ path, sha256 }], findings?: [...], facts?: [...] }
 *
 * (No Effect here: `zephyr` looks the cache up before it loads the engine; see Analysis.)
 */

/** Bump when the checks change what they find, or the advice what it reads. */
const FORMAT = 4

/** What a lookup gives: the parts an analysis of the same files found. */
export interface Cached {
  readonly findings?: ReadonlyArray<Finding> | undefined
  readonly facts?: ReadonlyArray<CodeFact> | undefined
}

/** A file an analysis read: its absolute path and the SHA-256 of the text it read. */
export interface HashedFile {
  readonly path: string
  readonly sha256: string
}

export const hashed = (files: ReadonlyArray<{ readonly path: string; readonly text: string }>): Array<HashedFile> =>
  files.map((f) => ({ path: f.path, sha256: ModuleCache.sha256(f.text) }))

interface Entry extends Cached {
  readonly files: ReadonlyArray<HashedFile>
}

/** An entry as this version writes it (a cache from another version has another key). */
const isEntry = (u: unknown): u is Entry => {
  const e = u as Entry
  return typeof e === "object" && e !== null && Array.isArray(e.files) &&
    e.files.every((f) => typeof f?.path === "string" && typeof f?.sha256 === "string") &&
    (e.findings === undefined || (Array.isArray(e.findings) &&
      e.findings.every((f) => typeof f?.code === "string" && typeof f?.message === "string" && typeof f?.file === "string" && typeof f?.line === "number"))) &&
    (e.facts === undefined || (Array.isArray(e.facts) && e.facts.every((f) => typeof f?.kind === "string" && typeof f?.call?.line === "number")))
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

const read = (dir: string, key: string): Entry | undefined => {
  const text = readText(entryFile(dir, key))
  if (text === undefined) return undefined
  try {
    const entry: unknown = JSON.parse(text)
    return isEntry(entry) ? entry : undefined
  } catch {
    return undefined
  }
}

/** What the cache holds for `key`, when every file it depends on is unchanged. */
export const lookup = (key: string): (Cached & { readonly files: ReadonlyArray<HashedFile> }) | undefined => {
  const dir = ModuleCache.directory()
  const entry = dir === undefined ? undefined : read(dir, key)
  if (entry === undefined) return undefined
  for (const f of entry.files) {
    const content = readText(f.path)
    if (content === undefined || ModuleCache.sha256(content) !== f.sha256) return undefined
  }
  ModuleCache.markUsed(entryFile(dir!, key))
  return { findings: entry.findings, facts: entry.facts, files: entry.files }
}

/**
 * Records what an analysis found; `files` with the text it read. The parts it did not look
 * for are kept from the entry there, if that entry was made from the same files. A cache
 * that cannot be written costs an analysis next time.
 */
export const store = (key: string, files: ReadonlyArray<{ readonly path: string; readonly text: string }>, found: Cached): void => {
  const dir = ModuleCache.directory()
  if (dir === undefined) return
  const now = hashed(files)
  const previous = read(dir, key)
  const same = previous !== undefined && JSON.stringify(previous.files) === JSON.stringify(now)
  const entry: Entry = {
    files: now,
    findings: found.findings ?? (same ? previous.findings : undefined),
    facts: found.facts ?? (same ? previous.facts : undefined)
  }
  try {
    ModuleCache.writeAtomic(entryFile(dir, key), JSON.stringify(entry))
  } catch {
    // see above
  }
  ModuleCache.pruneDaily(dir)
}
