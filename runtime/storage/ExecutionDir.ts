import { randomUUID } from "node:crypto"
import * as path from "node:path"

/**
 * The layout of an execution's directory in chunk storage. Everything a run writes lives
 * under it, and it is removed when the run ends.
 *
 *   <chunkDir>/<executionId>/
 *     stage-<s>/shard-<i>/a<attempt>-<uuid>.blk     map outputs
 *     stage-<s>/scatter/shard-<i>-a<attempt>-<uuid>/ shuffle runs and manifest
 *     stage-<s>/manifests.blk                        the manifests a reduce stage reads
 *     stages/stage-<s>.json                          completed stages (for resume)
 *     shared/<name>.msgpack                          values given with `shared`
 *     scratch/<worker>-s<stage>-<shard>-a<attempt>/  a task's temporary files
 */
interface TaskPosition { readonly stage: number; readonly shard: number; readonly attempt: number }

export const of = (chunkDir: string, executionId: string): string => path.join(chunkDir, executionId)

export const shardDir = (dir: string, t: TaskPosition): string => path.join(dir, `stage-${t.stage}`, `shard-${t.shard}`)

export const scatterDir = (dir: string, t: TaskPosition): string =>
  path.join(dir, `stage-${t.stage}`, "scatter", `shard-${t.shard}-a${t.attempt}-${randomUUID().slice(0, 8)}`)

export const manifestList = (dir: string, stage: number): string => path.join(dir, `stage-${stage}`, "manifests.blk")

export const scratchDir = (dir: string, workerId: string, t: TaskPosition): string =>
  path.join(dir, "scratch", `${workerId.replace(/[^\w.-]/g, "_")}-s${t.stage}-${t.shard}-a${t.attempt}`)

export const sharedFile = (dir: string, name: string): string => path.join(dir, "shared", `${encodeURIComponent(name)}.msgpack`)

export const stageRecord = (dir: string, stage: number): string => path.join(dir, "stages", `stage-${stage}.json`)
