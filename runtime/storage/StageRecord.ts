import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Stage from "../../plan/Stage.ts"
import type { ChunkRef, ShardOutput } from "../../rpc/Protocol.ts"
import * as FileGlob from "../FileGlob.ts"
import * as RunFile from "../shuffle/RunFile.ts"
import * as AtomicWrite from "./AtomicWrite.ts"
import * as BlockFile from "./BlockFile.ts"
import * as ExecutionDir from "./ExecutionDir.ts"
import * as StoragePath from "./StoragePath.ts"

/**
 * The record of a completed stage, which lets a resumed execution skip it. Next to the
 * stage's outputs it holds what the outputs were computed from: the stage's fingerprint
 * (its ops, their data and the code it runs, chained with the fingerprints of the stages it
 * reads: see finalize and CodeHash.ofStages), the module's export and `--arg`s, the records
 * of the outputs it read, and for a stage that reads a file source, the files it listed
 * (path, size, modification time). A record whose origin differs from the current run's,
 * or whose chunk files are gone, is stale: the stage runs again.
 */
export interface InputFile {
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
}

/** What a stage's outputs were computed from. */
export interface Origin {
  /** The stage's fingerprint. */
  readonly fingerprint: string
  /** The fingerprints of the recorded stages it reads, by stage id: tells a change upstream from one of its own. */
  readonly reads: Readonly<Record<string, string>>
  /** The ids of the records whose outputs it read, by stage id: once one of those stages ran again, this one is stale. */
  readonly upstream: Readonly<Record<string, string>>
  /** The module's export and args; null without a module. */
  readonly entry: { readonly export: string | null; readonly args: Readonly<Record<string, string>> } | null
  /** The files of the stage's file source; null for a stage that reads no file source. */
  readonly inputs: ReadonlyArray<InputFile> | null
}

const FORMAT = "zephyr-stage/3"

interface Stored extends Origin {
  readonly format: typeof FORMAT
  /** This record's id, which the records of the stages that read its outputs hold. */
  readonly id: string
  readonly outputs: ReadonlyArray<ShardOutput>
}

/** The files a stage's file source lists now, with their sizes and modification times; null for other stages. */
export const inputsOf = (stage: Stage.Stage): ReadonlyArray<InputFile> | null => {
  if (stage.input.kind !== "source" || stage.input.source.kind !== "files") return null
  return FileGlob.glob(stage.input.source.pattern).map((file) => {
    const full = path.resolve(file)
    try {
      const st = fs.statSync(full)
      return { path: full, size: st.size, mtimeMs: st.mtimeMs }
    } catch {
      return { path: full, size: -1, mtimeMs: -1 }
    }
  })
}

/** The bytes of a stage's record, and the record's id. */
export const encode = (origin: Origin, outputs: ReadonlyArray<ShardOutput>): { readonly id: string; readonly bytes: Uint8Array } => {
  const stored: Stored = { format: FORMAT, id: randomUUID(), ...origin, outputs }
  return { id: stored.id, bytes: BlockFile.encode(stored) }
}

/** Records a completed stage, durably (the record is the promise that its outputs exist); returns the record's id. */
export const write = (dir: string, stage: number, origin: Origin, outputs: ReadonlyArray<ShardOutput>): string => {
  const { id, bytes } = encode(origin, outputs)
  AtomicWrite.writeFileSync(ExecutionDir.stageRecord(dir, stage), bytes)
  return id
}

export type Check =
  | { readonly kind: "absent" }
  | { readonly kind: "valid"; readonly outputs: ReadonlyArray<ShardOutput>; readonly id: string }
  | { readonly kind: "stale"; readonly reason: string }

/** Whether stage `stage` of the execution in `dir` may be skipped: its record matches `origin` and its chunks exist. */
export const check = (dir: string, stage: number, origin: Origin): Check => {
  const file = ExecutionDir.stageRecord(dir, stage)
  let bytes: Uint8Array
  try {
    bytes = fs.readFileSync(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "absent" }
    return { kind: "stale", reason: `its record ${file} cannot be read (${(e as Error).message})` }
  }
  const read = fromBytes(file, bytes, origin)
  if (read.kind !== "valid") return read
  const reason = missingChunks(read.outputs)
  return reason === undefined ? read : { kind: "stale", reason }
}

/** What a record's bytes say for `origin`, before its chunk files are checked: valid (its outputs) or stale. */
export const fromBytes = (file: string, bytes: Uint8Array, origin: Origin): Exclude<Check, { kind: "absent" }> => {
  let stored: Stored
  try {
    stored = BlockFile.decode(bytes) as Stored
  } catch (e) {
    return { kind: "stale", reason: `its record ${file} is corrupt (${(e as Error).message})` }
  }
  if (stored === null || typeof stored !== "object" || stored.format !== FORMAT || typeof stored.id !== "string" || !Array.isArray(stored.outputs)) {
    return { kind: "stale", reason: `its record ${file} was written by another version of Zephyr` }
  }
  const reason = difference(stored, origin)
  return reason === undefined ? { kind: "valid", outputs: stored.outputs, id: stored.id } : { kind: "stale", reason }
}

const listed = (items: ReadonlyArray<string>, most = 3): string =>
  items.length <= most ? items.join(", ") : `${items.slice(0, most).join(", ")} and ${items.length - most} more`

const stagesNamed = (ids: ReadonlyArray<string>): string =>
  ids.length === 1 ? `stage ${ids[0]}` : `stages ${ids.slice(0, -1).join(", ")} and ${ids[ids.length - 1]}`

/** Why outputs computed from `recorded` do not hold for `current`; undefined when they do. */
export const difference = (recorded: Origin, current: Origin): string | undefined => {
  if ((recorded.entry?.export ?? null) !== (current.entry?.export ?? null)) {
    return `the module export changed (${recorded.entry?.export ?? "default"} then, ${current.entry?.export ?? "default"} now)`
  }
  const args = changedKeys(recorded.entry?.args ?? {}, current.entry?.args ?? {}, (a, b) => a === b)
  if (args.length > 0) return `the pipeline's arguments changed: ${listed(args.map((a) => `--arg ${a}`))}`
  if (recorded.fingerprint !== current.fingerprint) {
    // The fingerprint chains those of the stages it reads: when they are the same, the change is the stage's own.
    const reads = [...new Set([...Object.keys(recorded.reads), ...Object.keys(current.reads)])]
      .filter((k) => recorded.reads[k] !== current.reads[k])
      .sort((a, b) => Number(a) - Number(b))
    return reads.length > 0 ? `${stagesNamed(reads)}, which it reads, changed` : "its code changed"
  }
  const reran = Object.keys(current.upstream).filter((k) => recorded.upstream[k] !== current.upstream[k]).sort((a, b) => Number(a) - Number(b))
  if (reran.length > 0) return `${stagesNamed(reran)}, which it reads, ran again`
  if (recorded.inputs !== null || current.inputs !== null) {
    const before = new Map((recorded.inputs ?? []).map((f) => [f.path, f]))
    const now = new Map((current.inputs ?? []).map((f) => [f.path, f]))
    const changes: Array<string> = []
    for (const [file, f] of now) {
      const was = before.get(file)
      if (!was) changes.push(`${shown(file)} is new`)
      else if (was.size !== f.size) changes.push(`${shown(file)} changed size (${was.size} → ${f.size} bytes)`)
      else if (was.mtimeMs !== f.mtimeMs) changes.push(`${shown(file)} was modified (${new Date(was.mtimeMs).toISOString()} → ${new Date(f.mtimeMs).toISOString()})`)
    }
    for (const file of before.keys()) if (!now.has(file)) changes.push(`${shown(file)} is gone`)
    if (changes.length > 0) return `its input files changed: ${listed(changes)}`
  }
  return undefined
}

const changedKeys = <V>(a: Readonly<Record<string, V>>, b: Readonly<Record<string, V>>, same: (x: V, y: V) => boolean): Array<string> => {
  const out: Array<string> = []
  for (const k of Object.keys(b).sort()) {
    if (!(k in a)) out.push(`${k} is new`)
    else if (!same(a[k]!, b[k]!)) out.push(`${k} changed`)
  }
  for (const k of Object.keys(a).sort()) if (!(k in b)) out.push(`${k} is gone`)
  return out
}

const shown = (file: string): string => {
  if (StoragePath.isS3(file)) return file
  const rel = path.relative(process.cwd(), file)
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file
}

/** The first chunk file (or shuffle manifest, or run file) a recorded output names that is missing or truncated. */
export const missingChunks = (outputs: ReadonlyArray<ShardOutput>): string | undefined => {
  const seen = new Set<string>()
  const gone = (file: string, minBytes = 0): boolean => {
    if (seen.has(file)) return false
    seen.add(file)
    try {
      return fs.statSync(file).size < minBytes
    } catch {
      return true
    }
  }
  for (const o of outputs) {
    if (o.kind === "chunks") {
      for (const ref of o.refs as ReadonlyArray<ChunkRef>) if (ref.kind === "file" && gone(ref.path)) return `its chunk file ${ref.path} is missing`
      continue
    }
    if (gone(o.manifest)) return `its shuffle manifest ${o.manifest} is missing`
    let manifest: RunFile.Manifest
    try {
      manifest = RunFile.readManifest(o.manifest)
    } catch (e) {
      return `its shuffle manifest ${o.manifest} is unreadable (${(e as Error).message})`
    }
    for (const run of manifest.runs) {
      const file = path.join(path.dirname(o.manifest), run.file)
      if (gone(file, run.bytes)) return `its shuffle run ${file} is missing or truncated`
    }
  }
  return undefined
}
