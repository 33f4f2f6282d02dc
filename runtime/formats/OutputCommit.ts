import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { OutputCommit } from "../../rpc/Protocol.ts"
import * as AtomicWrite from "../storage/AtomicWrite.ts"

/**
 * Exactly-once final outputs, as Spark's output commit coordinator gives: every attempt of
 * a shard writes its file under a hidden name of its own beside the target, and the
 * coordinator renames the file of the attempt it accepted over the target and removes the
 * others. An attempt that was wrongly declared dead (a paused machine) and finishes after
 * the run moved on therefore never overwrites the accepted output. Only files named as
 * `pendingPath` names them are ever renamed or removed, and only inside their directory.
 */
const PENDING = /^\.(.+)\.zephyr-a\d+-[0-9a-f]{8}$/

/** Where attempt `attempt` writes the file that may become `target` (absolute, so the coordinator finds it). */
export const pendingPath = (target: string, attempt: number): string => {
  const absolute = path.resolve(target)
  return path.join(path.dirname(absolute), `.${path.basename(absolute)}.zephyr-a${attempt}-${randomUUID().slice(0, 8)}`)
}

/** Whether `commit` names a pending file of its own target, in the target's directory. */
export const isPending = (commit: OutputCommit): boolean => {
  const m = PENDING.exec(path.basename(commit.pending))
  return m !== null && path.isAbsolute(commit.pending) && path.dirname(commit.pending) === path.dirname(commit.target) && m[1] === path.basename(commit.target)
}

/** Renames the accepted attempt's file over its target: undefined once done, otherwise why it could not be. */
export const publish = (commit: OutputCommit): string | undefined => {
  if (!isPending(commit)) return `Refused to publish ${commit.pending} as ${commit.target}: not an attempt's pending output of that file.`
  try {
    // The attempt flushed its file before reporting; the rename itself survives a crash once its directory is flushed.
    fs.renameSync(commit.pending, commit.target)
    AtomicWrite.nodeIo.syncDir(path.dirname(commit.target))
    return undefined
  } catch (e) {
    return `Could not publish the output ${commit.target} from ${commit.pending}: ${(e as Error)?.message ?? String(e)} (the driver publishes every shard's file: outputs must be on a file system it shares with the workers, at the same path).`
  }
}

/** Removes the file of an attempt that was not accepted. */
export const discard = (commit: OutputCommit): void => {
  if (!isPending(commit)) return
  try { fs.rmSync(commit.pending, { force: true }) } catch { /* gone already, or not ours to remove */ }
}
