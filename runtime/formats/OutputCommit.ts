import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { OutputCommit } from "../../rpc/Protocol.ts"
import * as AtomicWrite from "../storage/AtomicWrite.ts"
import * as ObjectStore from "../storage/ObjectStore.ts"
import * as StoragePath from "../storage/StoragePath.ts"

/**
 * Exactly-once final outputs, as Spark's output commit coordinator gives: every attempt of
 * a shard writes its file under a hidden name of its own beside the target, and the
 * coordinator renames the file of the attempt it accepted over the target and removes the
 * others. An attempt that was wrongly declared dead (a paused machine) and finishes after
 * the run moved on therefore never overwrites the accepted output. Only files named as
 * `pendingPath` names them are ever renamed or removed, and only inside their directory.
 *
 * In object storage the attempt's file is a multipart upload that it leaves incomplete
 * (invisible: no object exists under any key until an upload completes); the coordinator
 * completes the accepted attempt's upload, which makes the whole object appear under the
 * target at once, and aborts the others'.
 */
const PENDING = /^\.(.+)\.zephyr-a\d+-[0-9a-f]{8}$/

/**
 * Where attempt `attempt` writes the file that may become `target` (absolute, so the
 * coordinator finds it). An object-storage target is its own "pending path": the writer
 * leaves its upload incomplete (see `of`).
 */
export const pendingPath = (target: string, attempt: number): string => {
  if (StoragePath.isS3(target)) return target
  const absolute = path.resolve(target)
  return path.join(path.dirname(absolute), `.${path.basename(absolute)}.zephyr-a${attempt}-${randomUUID().slice(0, 8)}`)
}

/** The commit an attempt reports: its pending file, or its incomplete upload, and the target. */
export const of = (target: string, pending: string, upload: ObjectStore.PendingUpload | undefined): OutputCommit => {
  if (!StoragePath.isS3(target)) return { pending, target: path.resolve(target) }
  if (upload === undefined) throw new Error(`Internal: the staged output ${target} has no upload`)
  return { pending: upload.uploadId, target, parts: upload.parts }
}

/** A commit of an object-storage output, published asynchronously (`publishRemote`). */
export const isRemote = (commit: OutputCommit): boolean => StoragePath.isS3(commit.target)

// Upload ids are opaque but printable; parts are numbered 1 to 10,000.
const uploadId = /^[\x21-\x7e]{1,1024}$/

/** Whether `commit` names a pending file of its own target, in the target's directory (or an upload of an object). */
export const isPending = (commit: OutputCommit): boolean => {
  if (isRemote(commit)) {
    try {
      StoragePath.parse(commit.target)
    } catch {
      return false
    }
    return uploadId.test(commit.pending) && commit.parts !== undefined && commit.parts.length > 0 &&
      commit.parts.every(([n, etag]) => Number.isInteger(n) && n >= 1 && n <= 10_000 && typeof etag === "string")
  }
  const m = PENDING.exec(path.basename(commit.pending))
  return m !== null && path.isAbsolute(commit.pending) && path.dirname(commit.pending) === path.dirname(commit.target) && m[1] === path.basename(commit.target)
}

const refused = (commit: OutputCommit) => `Refused to publish ${commit.pending} as ${commit.target}: not an attempt's pending output of that file.`

/** Renames the accepted attempt's file over its target: undefined once done, otherwise why it could not be. */
export const publish = (commit: OutputCommit): string | undefined => {
  if (!isPending(commit) || isRemote(commit)) return refused(commit)
  try {
    // The attempt flushed its file before reporting; the rename itself survives a crash once its directory is flushed.
    fs.renameSync(commit.pending, commit.target)
    AtomicWrite.nodeIo.syncDir(path.dirname(commit.target))
    return undefined
  } catch (e) {
    return `Could not publish the output ${commit.target} from ${commit.pending}: ${(e as Error)?.message ?? String(e)} (the driver publishes every shard's file: outputs must be on a file system it shares with the workers, at the same path).`
  }
}

/**
 * Removes, in `dir`, the pending files of the `published` targets' attempts: the attempts
 * that never reported (their worker was killed mid-write) leave them behind otherwise. Once
 * a stage has settled, no attempt of its files can be accepted any more. One listing per
 * directory; only files named as `pendingPath` names them, of those targets, are removed.
 */
export const sweep = (dir: string, published: ReadonlySet<string>): void => {
  let names: Array<string>
  try {
    names = fs.readdirSync(dir)
  } catch {
    return
  }
  for (const name of names) {
    const m = PENDING.exec(name)
    if (m !== null && published.has(m[1]!)) fs.rmSync(path.join(dir, name), { force: true })
  }
}

/** Removes the file of an attempt that was not accepted. */
export const discard = (commit: OutputCommit): void => {
  if (!isPending(commit) || isRemote(commit)) return
  try { fs.rmSync(commit.pending, { force: true }) } catch { /* gone already, or not ours to remove */ }
}

/** Completes the accepted attempt's upload under its target: undefined once done, otherwise why it could not be. */
export const publishRemote = async (commit: OutputCommit): Promise<string | undefined> => {
  if (!isPending(commit) || !isRemote(commit)) return refused(commit)
  try {
    await (await ObjectStore.s3()).complete(commit.target, { uploadId: commit.pending, parts: commit.parts! })
    return undefined
  } catch (e) {
    return `Could not publish the output ${commit.target} (upload ${commit.pending}): ${(e as Error)?.message ?? String(e)}`
  }
}

/** Aborts the upload of an attempt that was not accepted (best effort). */
export const discardRemote = async (commit: OutputCommit): Promise<void> => {
  if (!isPending(commit) || !isRemote(commit)) return
  try {
    await (await ObjectStore.s3()).abort(commit.target, commit.pending)
  } catch { /* gone already; a bucket lifecycle rule removes what is left */ }
}
