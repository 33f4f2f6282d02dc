import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { ZephyrPlanError } from "../../plan/Errors.ts"
import type { ModuleRef } from "../../plan/ModuleRef.ts"
import * as AtomicWrite from "./AtomicWrite.ts"
import * as ChunkDir from "./ChunkDir.ts"
import * as StoragePath from "./StoragePath.ts"

/**
 * The layout of an execution's directory in chunk storage. Everything a run writes lives
 * under it. It is removed when the run succeeds (only if it carries the marker), and kept
 * for `--resume` when the run fails or is interrupted.
 *
 *   <chunkDir>/<executionId>/
 *     zephyr-execution.json                          the marker: Zephyr created this directory
 *     lock                                           the driver using it (ExecutionLock)
 *     stage-<s>/shard-<i>/a<attempt>-<uuid>.blk     map outputs
 *     stage-<s>/scatter/shard-<i>-a<attempt>-<uuid>/ shuffle runs and manifest
 *     stage-<s>/manifests.blk                        the manifests a reduce stage reads
 *     stages/stage-<s>.json                          completed stages (for resume, StageRecord)
 *     shared/<name>.msgpack                          values given with `shared`
 *     scratch/<worker>-s<stage>-<shard>-a<attempt>/  a task's temporary files
 */
interface TaskPosition { readonly stage: number; readonly shard: number; readonly attempt: number }

const idPattern = /^[A-Za-z0-9_-]{1,128}$/

/** Ids are plain names (no separators, no dots), so an id can only name a directory right inside the chunk directory. */
export const isValidId = (id: string): boolean => idPattern.test(id)

/** Whether `<chunkDir>/<id>` resolves to a direct child of `chunkDir`. */
export const isInside = (chunkDir: string, id: string): boolean => {
  if (StoragePath.isS3(chunkDir)) return isValidId(id)
  const root = path.resolve(chunkDir)
  const dir = path.resolve(root, id)
  return path.dirname(dir) === root && path.basename(dir) === id
}

export const of = (chunkDir: string, executionId: string): string => {
  if (!isValidId(executionId) || !isInside(chunkDir, executionId)) throw new Error(`Internal: invalid execution id ${JSON.stringify(executionId)}`)
  return StoragePath.join(chunkDir, executionId)
}

export const shardDir = (dir: string, t: TaskPosition): string => StoragePath.join(dir, `stage-${t.stage}`, `shard-${t.shard}`)

export const scatterDir = (dir: string, t: TaskPosition): string =>
  StoragePath.join(dir, `stage-${t.stage}`, "scatter", `shard-${t.shard}-a${t.attempt}-${randomUUID().slice(0, 8)}`)

/**
 * A task's scratch directory: inside the execution's directory when that is local, on
 * this machine's private temp space when it is in object storage (spills and downloaded
 * inputs are local files either way).
 */
export const scratchDir = (dir: string, workerId: string, t: TaskPosition): string =>
  path.join(StoragePath.isS3(dir) ? localScratchRoot(dir) : dir, "scratch", `${workerId.replace(/[^\w.-]/g, "_")}-s${t.stage}-${t.shard}-a${t.attempt}`)

/** `<tmp>/zephyr-<uid>/remote/<bucket>/<key with / as _>`: where tasks of an execution in object storage keep local files. */
export const localScratchRoot = (dir: string): string => {
  const { bucket, key } = StoragePath.parse(dir)
  return path.join(ChunkDir.privateUserRoot(), "remote", bucket, key.replace(/[^\w.-]/g, "_"))
}

export const sharedFile = (dir: string, name: string): string => StoragePath.join(dir, "shared", `${encodeURIComponent(name)}.msgpack`)

export const stageRecord = (dir: string, stage: number): string => StoragePath.join(dir, "stages", `stage-${stage}.json`)

export const lockFile = (dir: string): string => StoragePath.join(dir, "lock")

export const markerFile = (dir: string): string => StoragePath.join(dir, "zephyr-execution.json")

export const MARKER_FORMAT = "zephyr-execution/1"

/** What the marker says: the directory is an execution Zephyr created, and which. */
export interface Marker {
  readonly format: typeof MARKER_FORMAT
  readonly executionId: string
  readonly created: string
  /** How to rebuild the pipeline (for the resume command a failed run prints). */
  readonly module?: Omit<ModuleRef, "sources"> | undefined
}

/** The marker of `dir`, if it has a valid one. */
export const readMarker = (dir: string): Marker | undefined => {
  try {
    const m = JSON.parse(fs.readFileSync(markerFile(dir), "utf8")) as Marker
    return m && m.format === MARKER_FORMAT && typeof m.executionId === "string" ? m : undefined
  } catch {
    return undefined
  }
}

/** Whether `dir` carries the marker of execution `id` (and so may be removed). */
export const isMarked = (dir: string, id: string): boolean => readMarker(dir)?.executionId === id

/** Records that a driver used the execution now: `zephyr gc` ages executions from this. */
export const touch = (dir: string): void => {
  const now = new Date()
  try {
    fs.utimesSync(markerFile(dir), now, now)
  } catch { /* an unmarked directory is never collected anyway */ }
}

export interface Opened {
  readonly executionId: string
  readonly dir: string
  /** The directory existed: a resumed execution. */
  readonly resumed: boolean
}

const unknown = (message: string) => new ZephyrPlanError({ reason: "unknown-execution", message })

/** Creates the directory of a new execution (exclusively: an existing one is never adopted) and its marker. */
const create = (chunkDir: string, executionId: string, module: Marker["module"]): Opened | undefined => {
  const dir = of(chunkDir, executionId)
  try {
    fs.mkdirSync(dir, { mode: 0o700 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return undefined
    throw e
  }
  const marker: Marker = { format: MARKER_FORMAT, executionId, created: new Date().toISOString(), ...(module ? { module } : {}) }
  AtomicWrite.writeFileSync(markerFile(dir), JSON.stringify(marker, null, 2) + "\n")
  return { executionId, dir, resumed: false }
}

/** An existing execution directory, which must carry Zephyr's marker for this id. */
const existing = (chunkDir: string, executionId: string): Opened => {
  const dir = of(chunkDir, executionId)
  if (fs.lstatSync(dir).isSymbolicLink()) {
    throw unknown(`${dir} is a symbolic link, not an execution directory; Zephyr does not follow it. Choose another execution id or chunk directory.`)
  }
  if (!isMarked(dir, executionId)) {
    throw unknown(`The directory ${dir} exists but is not a Zephyr execution (it has no ${path.basename(markerFile(dir))} marker for ${JSON.stringify(executionId)}); Zephyr does not write into or remove it. Choose another execution id or chunk directory.`)
  }
  return { executionId, dir, resumed: true }
}

/**
 * The execution directory a run works in:
 * - `resume`: the existing execution `executionId`; an unknown id fails, never starts afresh;
 * - `executionId` alone: that execution, resumed when it exists, created otherwise;
 * - neither: a new execution under an id from `newId`.
 * A directory without the marker is never adopted.
 */
export const open = (
  chunkDir: string,
  request: { readonly executionId: string | undefined; readonly resume: boolean; readonly module?: Marker["module"] },
  newId: () => string
): Opened => {
  const { executionId, resume, module } = request
  if (executionId === undefined) {
    for (;;) {
      const made = create(chunkDir, newId(), module)
      if (made) return made
    }
  }
  const dir = of(chunkDir, executionId)
  if (resume) {
    if (!fs.existsSync(dir)) {
      throw unknown(`There is no execution ${JSON.stringify(executionId)} to resume in the chunk directory ${chunkDir}: it finished (a successful run removes its directory), was removed by zephyr gc, or ran with another --chunk-dir.`)
    }
    return existing(chunkDir, executionId)
  }
  return create(chunkDir, executionId, module) ?? existing(chunkDir, executionId)
}

/** Removes the execution's directory if it carries the marker for `id`; false when it does not (it is kept). */
export const removeIfMarked = (dir: string, id: string): boolean => {
  if (!isMarked(dir, id)) return false
  fs.rmSync(dir, { recursive: true, force: true })
  return true
}
