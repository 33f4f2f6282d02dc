import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Writable } from "node:stream"
import * as AtomicWrite from "./AtomicWrite.ts"
import * as Directory from "./Directory.ts"
import * as S3Options from "./S3Options.ts"
import type * as S3Store from "./S3Store.ts"
import * as StoragePath from "./StoragePath.ts"

/**
 * The storage seam: what readers, writers and the chunk directory need from the place a
 * path names, with one implementation for the local file system and one for S3-compatible
 * object storage (`s3://bucket/key`, through the AWS SDK).
 *
 * A store is picked once per file opened (`of`), never per chunk: the local store's reads
 * and writes are the same file handles and streams as before the seam, so the hot loops of
 * local runs pay nothing for it. The S3 store's module, and the SDK with it, is loaded the
 * first time an `s3://` path is used; no other run (and no process start) pays for it.
 */

/** Pieces of this size make up a file's stream (64 KiB string chunks split and parse fastest). */
export const READ_CHUNK = 1 << 16

/**
 * A local file is read this much at a time and handed out in READ_CHUNK pieces: a read of
 * 64 KiB came back from the thread pool after the consumer had parsed the one before, and the
 * reader waited (reading and parsing 105 MB of JSONL: 1.68–2.05 s with 64 KiB reads, 1.43–1.73 s
 * with 1 MiB reads cut into the same pieces, 6 alternating runs each).
 */
const LOCAL_READ = 1 << 20

export interface Stat {
  readonly size: number
  readonly mtimeMs: number
}

/** Random access to one file (Parquet footers and column chunks). */
export interface RandomAccess {
  readonly size: number
  /** Bytes [start, end) (clipped to the file); local: a positioned read, S3: a ranged GET. */
  readonly read: (start: number, end: number) => Promise<Uint8Array>
  readonly close: () => Promise<void>
}

/** An upload left incomplete for someone else to publish (S3's multipart upload): its id and parts. */
export interface PendingUpload {
  readonly uploadId: string
  readonly parts: ReadonlyArray<readonly [number, string]>
}

/**
 * An output that appears under its name only once complete. Bytes go to `stream` (back-
 * pressure respected); `publish` makes the file appear (locally: flushed and renamed over
 * the target; S3: the multipart upload completed, or one PUT for a small file), or, when
 * staged, leaves it for the driver to publish (locally: flushed under the staged name; S3:
 * the upload left incomplete, its id and parts returned). `discard` drops everything.
 */
export interface OutputSink {
  readonly stream: Writable
  /** Resolves when `stream` has finished (after its end) and rejects with its error. */
  readonly finished: Promise<void>
  readonly bytesWritten: () => number
  readonly publish: (io?: AtomicWrite.AsyncIo) => Promise<PendingUpload | undefined>
  readonly discard: () => Promise<void>
}

export interface ObjectStore {
  readonly kind: "local" | "s3"
  /** The bytes of a file in pieces of about READ_CHUNK, read ahead of the consumer (local files LOCAL_READ at a time). */
  readonly chunks: (file: string, onRead: (n: number) => void, state: { read: number; size: number }) => AsyncGenerator<Buffer>
  readonly random: (file: string, onRead: (n: number) => void) => Promise<RandomAccess>
  /** `staged`: a local path to leave the complete file under (OutputCommit), or, for S3, `true`. */
  readonly output: (target: string, staged: string | undefined) => Promise<OutputSink>
  readonly stat: (file: string) => Promise<Stat | undefined>
  /** A whole (small) file; undefined when it does not exist. */
  readonly readFile: (file: string) => Promise<Uint8Array | undefined>
  /** Replaces a small file atomically (readers see the old or the new bytes, never a part). */
  readonly writeFile: (file: string, bytes: Uint8Array) => Promise<void>
}

/**
 * Why a request to object storage failed, as a sentence naming the URL and the option or
 * variable to fix. `kind` lets callers decide: a missing object is missing input, access
 * and configuration problems are the user's to fix, `unavailable` may pass if retried.
 */
export type FailureKind = "not-found" | "no-bucket" | "access" | "credentials" | "unreachable" | "unavailable"

export class ObjectStoreError extends Error {
  constructor(readonly kind: FailureKind, readonly url: string, message: string) {
    super(message)
    this.name = "ObjectStoreError"
  }
}

export const isObjectStoreError = (e: unknown): e is ObjectStoreError => e instanceof ObjectStoreError

// ---- local files -------------------------------------------------------------------------

async function* localChunks(file: string, onRead: (n: number) => void, state: { read: number; size: number }): AsyncGenerator<Buffer> {
  const handle = await fs.promises.open(file, "r")
  let offset = 0
  const readBlock = async (): Promise<Buffer | undefined> => {
    // No bigger than what is left of the file (a small file's read stays one piece's size).
    const size = Math.min(LOCAL_READ, Math.max(READ_CHUNK, state.size - offset))
    const buf = Buffer.allocUnsafe(size)
    const { bytesRead } = await handle.read(buf, 0, size, null)
    if (bytesRead === 0) return undefined
    offset += bytesRead
    return bytesRead === size ? buf : buf.subarray(0, bytesRead)
  }
  let ahead: Promise<Buffer | undefined> | undefined
  try {
    state.size = (await handle.stat()).size
    ahead = readBlock()
    for (;;) {
      const block = await ahead
      ahead = undefined
      if (block === undefined) return
      ahead = readBlock()
      for (let at = 0; at < block.length; at += READ_CHUNK) {
        const piece = block.subarray(at, Math.min(block.length, at + READ_CHUNK))
        // Counted as handed out, so a decoding failure names the offset it reached.
        state.read += piece.length
        onRead(piece.length)
        yield piece
      }
    }
  } finally {
    // A consumer that stops early leaves one read in flight: let it settle before closing.
    if (ahead !== undefined) await ahead.catch(() => undefined)
    await handle.close()
  }
}

const localRandom = async (file: string, onRead: (n: number) => void): Promise<RandomAccess> => {
  const handle = await fs.promises.open(file, "r")
  try {
    const size = (await handle.stat()).size
    const read = async (start: number, end: number): Promise<Uint8Array> => {
      const length = Math.max(0, Math.min(end, size) - start)
      const out = new Uint8Array(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await handle.read(out, done, length - done, start + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      onRead(done)
      return done === length ? out : out.subarray(0, done)
    }
    return { size, read, close: () => handle.close() }
  } catch (e) {
    await handle.close()
    throw e
  }
}

/** Completion of a bare file stream, like `pipeline` gives for a chain. */
const fileFinished = (file: fs.WriteStream): Promise<void> =>
  new Promise((resolve, reject) => {
    file.once("close", () => (file.writableFinished ? resolve() : reject(new Error(`${file.path} closed before it finished`))))
    file.once("error", reject)
  })

/** A hidden temporary file beside the target, renamed over it on publish (or left, flushed, under `staged`). */
const localOutput = async (target: string, staged: string | undefined): Promise<OutputSink> => {
  const dir = path.dirname(target)
  Directory.make(dir)
  const tmp = staged ?? path.join(dir, `.${path.basename(target)}.tmp-${randomUUID().slice(0, 8)}`)
  const stream = fs.createWriteStream(tmp, { highWaterMark: 1 << 20 })
  await new Promise<void>((resolve, reject) => { stream.once("open", () => resolve()); stream.once("error", reject) })
  const finished = fileFinished(stream)
  finished.catch(() => { /* seen by the writer */ })
  return {
    stream,
    finished,
    bytesWritten: () => stream.bytesWritten,
    publish: async (io = AtomicWrite.nodeAsyncIo) => {
      try {
        if (staged === undefined) await AtomicWrite.publish(tmp, target, io)
        else await AtomicWrite.flushFile(tmp, io)
      } catch (e) {
        await fs.promises.rm(tmp, { force: true })
        throw e
      }
      return undefined
    },
    discard: async () => {
      stream.destroy()
      await finished.catch(() => {})
      await fs.promises.rm(tmp, { force: true })
    }
  }
}

const missing = (e: unknown): boolean => (e as NodeJS.ErrnoException)?.code === "ENOENT"

export const local: ObjectStore = {
  kind: "local",
  chunks: localChunks,
  random: localRandom,
  output: localOutput,
  stat: async (file) => {
    try {
      const st = await fs.promises.stat(file)
      return { size: st.size, mtimeMs: st.mtimeMs }
    } catch (e) {
      if (missing(e)) return undefined
      throw e
    }
  },
  readFile: async (file) => {
    try {
      return await fs.promises.readFile(file)
    } catch (e) {
      if (missing(e)) return undefined
      throw e
    }
  },
  writeFile: async (file, bytes) => AtomicWrite.writeFileSync(file, bytes)
}

// ---- S3 ----------------------------------------------------------------------------------

let current: S3Options.Settings | undefined
let loaded: Promise<typeof S3Store> | undefined
const stores = new Map<string, S3Store.S3Store>()

/**
 * Sets how this process reaches object storage (the driver from its run options and
 * environment, a worker from its job spec). Until then the environment's settings apply.
 * One setting per process: in-process runs in the same process share it.
 */
export const configure = (settings: S3Options.Settings): void => { current = settings }

export const settings = (): S3Options.Settings => (current ??= S3Options.resolve({}))

/** The SDK-backed store for the current settings, its module loaded on first use. */
export const s3 = async (): Promise<S3Store.S3Store> => {
  const module = await (loaded ??= import("./S3Store.ts"))
  const s = settings()
  const id = JSON.stringify([s.endpoint, s.region, s.forcePathStyle])
  let store = stores.get(id)
  if (store === undefined) {
    store = new module.S3Store(s)
    stores.set(id, store)
  }
  return store
}

/** Whether the S3 store's module is loaded (start-up tests check that local runs never load it). */
export const s3Loaded = (): boolean => loaded !== undefined

const remote: ObjectStore = {
  kind: "s3",
  async *chunks(file, onRead, state) {
    yield* (await s3()).chunks(file, onRead, state)
  },
  random: async (file, onRead) => (await s3()).random(file, onRead),
  output: async (target, staged) => (await s3()).output(target, staged !== undefined),
  stat: async (file) => (await s3()).stat(file),
  readFile: async (file) => (await s3()).readFile(file),
  writeFile: async (file, bytes) => (await s3()).writeFile(file, bytes)
}

/** The store of the place `file` names. */
export const of = (file: string): ObjectStore => (StoragePath.isS3(file) ? remote : local)
