import * as fs from "node:fs"
import * as path from "node:path"
import type { ChunkRef, ShardInput } from "../../rpc/Protocol.ts"
import type * as RunFile from "../shuffle/RunFile.ts"
import * as SegmentIndex from "../shuffle/SegmentIndex.ts"
import * as ChunkDir from "./ChunkDir.ts"
import * as Directory from "./Directory.ts"
import * as ObjectStore from "./ObjectStore.ts"
import { StorageError } from "./StorageError.ts"
import * as StoragePath from "./StoragePath.ts"

/**
 * Chunk files of an execution whose directory is in object storage (`--chunk-dir
 * s3://bucket/prefix`). The data plane stays what it is for a local chunk directory:
 * synchronous loops over local files. A task moves data across at its edges only:
 *
 * - before it runs, the chunk files its input names are downloaded into its scratch
 *   directory (on this machine), and for a shuffle, each mapper's segment of this reducer's
 *   target is fetched with one ranged GET (never a whole run file);
 * - after it ran, the files it wrote locally (a chunk file; a scatter's runs, then its
 *   manifest) are uploaded under the execution's prefix, and the report names them by URL.
 *
 * A failed request is an infrastructure failure of the task (StorageError): the shard is
 * retried, on another worker first, like after a disk error in a local chunk directory.
 */

/** Downloads and uploads in flight per task. */
const CONCURRENCY = 8

export const isRemote = (executionDir: string): boolean => StoragePath.isS3(executionDir)

const failed = (what: string, e: unknown): StorageError =>
  e instanceof StorageError ? e : new StorageError(`${what}: ${(e as Error)?.message ?? String(e)}`)

/** Runs `f` on every item with at most CONCURRENCY in flight; results in input order. */
export const pool = async <A, B>(items: ReadonlyArray<A>, f: (item: A, index: number) => Promise<B>): Promise<Array<B>> => {
  const out = new Array<B>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      out[i] = await f(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker))
  return out
}

/** A local directory for a task's downloads (its scratch directory is private to the user). */
const localDir = (scratch: string, name: string): string => {
  ChunkDir.privateUserRoot()
  const dir = path.join(scratch, name)
  Directory.make(dir, { mode: 0o700 })
  return dir
}

/** The refs with every object-storage chunk file downloaded (once each) into `scratch`. */
export const fetchRefs = async (refs: ReadonlyArray<ChunkRef>, scratch: string): Promise<Array<ChunkRef>> => {
  const urls = [...new Set(refs.flatMap((r) => (r.kind === "file" && r.take > 0 && StoragePath.isS3(r.path) ? [r.path] : [])))]
  if (urls.length === 0) return [...refs]
  const dir = localDir(scratch, "inputs")
  const store = await ObjectStore.s3()
  const local = new Map<string, string>()
  await pool(urls, async (url, i) => {
    const file = path.join(dir, `${i}-${StoragePath.basename(url)}`)
    try {
      await store.download(url, file)
    } catch (e) {
      throw failed(`Could not fetch the chunk file ${url}`, e)
    }
    local.set(url, file)
  })
  return refs.map((r) => (r.kind === "file" && local.has(r.path) ? { ...r, path: local.get(r.path)! } : r))
}

/** A shard input with its chunk files local (other inputs are returned as they are). */
export const fetchInput = async (input: ShardInput, scratch: string): Promise<ShardInput> =>
  input.kind === "chunks" ? { kind: "chunks", refs: await fetchRefs(input.refs, scratch) } : input

/**
 * A reduce task's segments (its own list: SegmentIndex), each fetched with a ranged GET
 * into a local file, as local segments for the merge, in the list's order.
 */
export const fetchShuffle = async (input: SegmentIndex.ShuffleInput, executionDir: string, scratch: string): Promise<Array<RunFile.Segment>> => {
  try {
    const remote = SegmentIndex.segmentsOf(input, executionDir)
    if (remote.length === 0) return []
    const dir = localDir(scratch, "segments")
    const store = await ObjectStore.s3()
    return await pool(remote, async (s, i) => {
      const file = path.join(dir, `segment-${i}.zrun`)
      const got = await store.download(s.file, file, { start: s.offset, end: s.offset + s.length })
      if (got !== s.length) throw new StorageError(`The shuffle run ${s.file} is truncated: ${got} of the ${s.length} bytes at ${s.offset}`)
      return { ...s, file, offset: 0 }
    })
  } catch (e) {
    throw failed(`Could not fetch the segments of shuffle target ${input.target}`, e)
  }
}

/** Uploads a local file as the object `url`. */
export const upload = async (file: string, url: string): Promise<void> => {
  try {
    await (await ObjectStore.s3()).upload(file, url)
  } catch (e) {
    throw failed(`Could not upload the chunk file ${url}`, e)
  }
}

/**
 * Uploads a scatter's local directory under `url` (same names): the run files first, the
 * manifest (`manifest`, a file of the directory) last, so that a manifest that exists names
 * runs that do. Returns the manifest's URL.
 */
export const uploadScatter = async (dir: string, manifest: string, url: string): Promise<string> => {
  const name = path.basename(manifest)
  const runs = fs.readdirSync(dir).filter((f) => f !== name && !f.includes(".tmp-"))
  await pool(runs, (f) => upload(path.join(dir, f), StoragePath.join(url, f)))
  const target = StoragePath.join(url, name)
  await upload(manifest, target)
  return target
}
