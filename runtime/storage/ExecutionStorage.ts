import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ZephyrInfraError, ZephyrPlanError } from "../../plan/Errors.ts"
import * as Source from "../../plan/Source.ts"
import type * as Stage from "../../plan/Stage.ts"
import type { ChunkRef, ShardOutput } from "../../rpc/Protocol.ts"
import * as FileGlob from "../FileGlob.ts"
import * as RunFile from "../shuffle/RunFile.ts"
import * as BlockFile from "./BlockFile.ts"
import * as ChunkDir from "./ChunkDir.ts"
import * as ExecutionDir from "./ExecutionDir.ts"
import * as ExecutionLock from "./ExecutionLock.ts"
import * as ObjectStore from "./ObjectStore.ts"
import * as StageRecord from "./StageRecord.ts"
import * as StoragePath from "./StoragePath.ts"

/**
 * What the driver does with an execution's directory (ExecutionDir's layout), wherever the
 * chunk directory is: on a local (or network) file system, through the synchronous modules
 * that have always done it (ChunkDir, ExecutionDir, ExecutionLock, StageRecord), or in
 * object storage (`s3://bucket/prefix`), with the same layout as keys under the prefix:
 *
 * - the marker is created with a conditional PUT (If-None-Match), so two drivers never
 *   adopt one new id; an existing prefix without the marker is never written into;
 * - the lock is an object holding the driver's pid, host and a token, created the same way
 *   and read back (a store that ignores the condition still lets only the last writer of
 *   two racing drivers through); a lock of a dead pid on this host is taken over;
 * - stage records, shared values and the shuffle's manifest lists are objects; a record is
 *   valid only while every chunk object it names exists (run objects at full size);
 * - success removes every object under the execution's prefix.
 *
 * Each function is called a few times per stage, never per item.
 */

const s3 = ObjectStore.s3

const bytesOf = (text: string): Uint8Array => Buffer.from(text, "utf8")

/** The chunk directory, ready: local ones created (and checked when they are the private default); a bucket prefix listed once. */
export const prepare = async (chunkDir: string): Promise<string> => {
  if (!StoragePath.isS3(chunkDir)) return ChunkDir.ensure(chunkDir)
  StoragePath.parse(chunkDir, "--chunk-dir / option chunkDir")
  try {
    await (await s3()).checkAccess(chunkDir)
  } catch (e) {
    throw new ZephyrInfraError({
      reason: "storage",
      message: `Cannot use the chunk directory ${chunkDir} (--chunk-dir / option chunkDir): ${(e as Error)?.message ?? String(e)}`,
      retryable: false
    })
  }
  return chunkDir
}

const unknown = (message: string) => new ZephyrPlanError({ reason: "unknown-execution", message })

const readMarker = async (dir: string): Promise<ExecutionDir.Marker | undefined> => {
  const bytes = await (await s3()).readFile(ExecutionDir.markerFile(dir))
  if (bytes === undefined) return undefined
  try {
    const m = JSON.parse(Buffer.from(bytes).toString("utf8")) as ExecutionDir.Marker
    return m && m.format === ExecutionDir.MARKER_FORMAT && typeof m.executionId === "string" ? m : undefined
  } catch {
    return undefined
  }
}

/** Whether anything at all lies under the prefix of `dir`. */
const occupied = async (dir: string): Promise<boolean> => {
  const { bucket, key } = StoragePath.parse(dir)
  for await (const _ of (await s3()).list(bucket, StoragePath.prefixOf({ bucket, key }))) return true
  return false
}

const notAnExecution = (dir: string, id: string) =>
  unknown(`${dir} holds objects but is not a Zephyr execution (it has no zephyr-execution.json marker for ${JSON.stringify(id)}); Zephyr does not write into or remove it. Choose another execution id or chunk directory.`)

/** Creates the execution `id` under `chunkDir` (undefined when that prefix is taken). */
const createRemote = async (chunkDir: string, id: string, module: ExecutionDir.Marker["module"]): Promise<ExecutionDir.Opened | undefined> => {
  const dir = ExecutionDir.of(chunkDir, id)
  if (await occupied(dir)) return undefined
  const marker: ExecutionDir.Marker = { format: ExecutionDir.MARKER_FORMAT, executionId: id, created: new Date().toISOString(), ...(module ? { module } : {}) }
  const created = await (await s3()).createExclusive(ExecutionDir.markerFile(dir), bytesOf(JSON.stringify(marker, null, 2) + "\n"))
  return created ? { executionId: id, dir, resumed: false } : undefined
}

const existingRemote = async (chunkDir: string, id: string): Promise<ExecutionDir.Opened> => {
  const dir = ExecutionDir.of(chunkDir, id)
  if ((await readMarker(dir))?.executionId !== id) throw notAnExecution(dir, id)
  return { executionId: id, dir, resumed: true }
}

/** The execution directory a run works in (see ExecutionDir.open for the rules; the same in object storage). */
export const open = async (
  chunkDir: string,
  request: { readonly executionId: string | undefined; readonly resume: boolean; readonly module?: ExecutionDir.Marker["module"] },
  newId: () => string
): Promise<ExecutionDir.Opened> => {
  if (!StoragePath.isS3(chunkDir)) return ExecutionDir.open(chunkDir, request, newId)
  const { executionId, resume, module } = request
  if (executionId === undefined) {
    for (;;) {
      const made = await createRemote(chunkDir, newId(), module)
      if (made) return made
    }
  }
  const dir = ExecutionDir.of(chunkDir, executionId)
  if (resume) {
    if (!(await occupied(dir))) {
      throw unknown(`There is no execution ${JSON.stringify(executionId)} to resume in the chunk directory ${chunkDir}: it finished (a successful run removes its objects), or ran with another --chunk-dir.`)
    }
    return existingRemote(chunkDir, executionId)
  }
  return (await createRemote(chunkDir, executionId, module)) ?? existingRemote(chunkDir, executionId)
}

export interface Lock {
  readonly tookOverFrom: ExecutionLock.Holder | undefined
  /** Removes the lock if it is still this holder's. */
  readonly release: () => Promise<void>
}

const parseHolder = (bytes: Uint8Array | undefined): ExecutionLock.Holder | undefined => {
  if (bytes === undefined) return undefined
  try {
    const h = JSON.parse(Buffer.from(bytes).toString("utf8")) as ExecutionLock.Holder
    return h && Number.isInteger(h.pid) && typeof h.host === "string" ? h : undefined
  } catch {
    return undefined
  }
}

/** Locks the execution for this driver, or fails naming the live holder (ExecutionLock's rules). */
export const lock = async (dir: string): Promise<Lock> => {
  if (!StoragePath.isS3(dir)) {
    const l = ExecutionLock.acquire(dir)
    return { tookOverFrom: l.tookOverFrom, release: async () => l.release() }
  }
  const store = await s3()
  const file = ExecutionDir.lockFile(dir)
  const holder: ExecutionLock.Holder = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), token: randomUUID() }
  let tookOverFrom: ExecutionLock.Holder | undefined
  for (let tries = 0; tries < 5; tries++) {
    const current = await store.readFile(file)
    if (current !== undefined) {
      const other = parseHolder(current)
      if (other === undefined || !ExecutionLock.isStale(other)) throw ExecutionLock.lockedError(dir, file, other)
      tookOverFrom = other
      await store.remove(file)
      continue
    }
    if (!(await store.createExclusive(file, bytesOf(JSON.stringify(holder) + "\n")))) continue
    // Read back: with a store that ignores the condition, the last of two racing writers wins.
    if (parseHolder(await store.readFile(file))?.token !== holder.token) continue
    return {
      tookOverFrom,
      release: async () => {
        // A lock left behind (the store unreachable at the end) is taken over by the next run on this host.
        try {
          if (parseHolder(await store.readFile(file))?.token === holder.token) await store.remove(file)
        } catch { /* see above */ }
      }
    }
  }
  throw ExecutionLock.lockedError(dir, file, parseHolder(await store.readFile(file)))
}

/** Removes the execution if it carries the marker for `id`; false when it does not (it is kept). */
export const removeIfMarked = async (dir: string, id: string): Promise<boolean> => {
  if (!StoragePath.isS3(dir)) return ExecutionDir.removeIfMarked(dir, id)
  if ((await readMarker(dir))?.executionId !== id) return false
  await (await s3()).removeTree(dir)
  return true
}

/** Records that a driver used the execution now (`zephyr gc`'s age; object storage ages by a bucket's lifecycle rules instead). */
export const touch = async (dir: string): Promise<void> => {
  if (!StoragePath.isS3(dir)) ExecutionDir.touch(dir)
}

/** Writes the run's `shared` values where workers read them. */
export const writeShared = async (dir: string, shared: Readonly<Record<string, unknown>>): Promise<void> => {
  for (const [name, value] of Object.entries(shared)) await ObjectStore.of(dir).writeFile(ExecutionDir.sharedFile(dir, name), BlockFile.encode(value))
}

/** The files a stage's file source lists now, with sizes and modification times (StageRecord.inputsOf, for objects too). */
export const inputsOf = async (stage: Stage.Stage): Promise<ReadonlyArray<StageRecord.InputFile> | null> => {
  if (stage.input.kind !== "source" || stage.input.source.kind !== "files" || !StoragePath.isS3(stage.input.source.pattern)) return StageRecord.inputsOf(stage)
  const source = stage.input.source
  try {
    return await FileGlob.listObjects(source.pattern, source)
  } catch (e) {
    throw new Error(`Cannot list the input ${JSON.stringify(source.pattern)} of ${Source.describe(source)} at ${source.source.file}:${source.source.line}: ${(e as Error)?.message ?? String(e)}`)
  }
}

/** Records a completed stage (StageRecord.write, for objects too); returns the record's id. */
export const recordStage = async (dir: string, stage: number, origin: StageRecord.Origin, outputs: ReadonlyArray<ShardOutput>): Promise<string> => {
  if (!StoragePath.isS3(dir)) return StageRecord.write(dir, stage, origin, outputs)
  const { id, bytes } = StageRecord.encode(origin, outputs)
  await (await s3()).writeFile(ExecutionDir.stageRecord(dir, stage), bytes)
  return id
}

/** Whether stage `stage` may be skipped (StageRecord.check). Never fails: what cannot be read makes the stage run again. */
export const checkStage = async (dir: string, stage: number, origin: StageRecord.Origin): Promise<StageRecord.Check> => {
  if (!StoragePath.isS3(dir)) return StageRecord.check(dir, stage, origin)
  const file = ExecutionDir.stageRecord(dir, stage)
  try {
    const bytes = await (await s3()).readFile(file)
    if (bytes === undefined) return { kind: "absent" }
    const read = StageRecord.fromBytes(file, bytes, origin)
    if (read.kind !== "valid") return read
    const reason = await missingObjects(read.outputs)
    return reason === undefined ? read : { kind: "stale", reason }
  } catch (e) {
    return { kind: "stale", reason: `its record ${file} cannot be read (${(e as Error)?.message ?? String(e)})` }
  }
}

/** StageRecord.missingChunks for outputs in object storage. */
const missingObjects = async (outputs: ReadonlyArray<ShardOutput>): Promise<string | undefined> => {
  const store = await s3()
  const seen = new Set<string>()
  const gone = async (file: string, minBytes = 0): Promise<boolean> => {
    if (seen.has(file)) return false
    seen.add(file)
    return ((await store.stat(file))?.size ?? -1) < minBytes
  }
  for (const o of outputs) {
    if (o.kind === "chunks") {
      for (const ref of o.refs as ReadonlyArray<ChunkRef>) if (ref.kind === "file" && (await gone(ref.path))) return `its chunk file ${ref.path} is missing`
      continue
    }
    const bytes = await store.readFile(o.manifest)
    if (bytes === undefined) return `its shuffle manifest ${o.manifest} is missing`
    let manifest: RunFile.Manifest
    try {
      manifest = RunFile.parseManifest(Buffer.from(bytes).toString("utf8"), o.manifest)
    } catch (e) {
      return `its shuffle manifest ${o.manifest} is unreadable (${(e as Error).message})`
    }
    for (const run of manifest.runs) {
      const file = StoragePath.join(StoragePath.dirname(o.manifest), run.file)
      if (await gone(file, run.bytes)) return `its shuffle run ${file} is missing or truncated`
    }
  }
  return undefined
}

/**
 * The outputs with their chunk files readable here: local ones as they are, objects
 * downloaded into a private temporary directory (`cleanup` removes it).
 */
export const localOutputs = async (outputs: ReadonlyArray<ShardOutput>): Promise<{ readonly outputs: ReadonlyArray<ShardOutput>; readonly cleanup: () => void }> => {
  const remote = outputs.some((o) => o.kind === "chunks" && o.refs.some((r) => r.kind === "file" && StoragePath.isS3(r.path)))
  if (!remote) return { outputs, cleanup: () => {} }
  const dir = fs.mkdtempSync(path.join(ChunkDir.privateUserRoot(), "results-"))
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true })
  try {
    const store = await s3()
    const local = new Map<string, string>()
    let n = 0
    for (const o of outputs) {
      if (o.kind !== "chunks") continue
      for (const r of o.refs) {
        if (r.kind !== "file" || !StoragePath.isS3(r.path) || local.has(r.path)) continue
        const file = path.join(dir, `${n++}.blk`)
        await store.download(r.path, file)
        local.set(r.path, file)
      }
    }
    return {
      outputs: outputs.map((o) => o.kind !== "chunks" ? o : { ...o, refs: o.refs.map((r) => (r.kind === "file" && local.has(r.path) ? { ...r, path: local.get(r.path)! } : r)) }),
      cleanup
    }
  } catch (e) {
    cleanup()
    throw e
  }
}
