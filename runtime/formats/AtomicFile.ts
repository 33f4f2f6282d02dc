import { once } from "node:events"
import type { Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as AtomicWrite from "../storage/AtomicWrite.ts"
import * as ObjectStore from "../storage/ObjectStore.ts"
import { compressor, loadZstd } from "./Compression.ts"
import { dataError, errorMessage, isUnwritable } from "./DataError.ts"
import type { Codec } from "./FileType.ts"

/**
 * An output file that appears under its final name only when complete: bytes go (through
 * the codec's compressor) to the store's output sink: locally a hidden temporary file in
 * the same directory, renamed over the target on `commit` (flushed to disk first, its
 * directory after: a published output survives a machine crash) and removed on `abort`
 * (parent directories are created); in object storage a multipart upload, completed on
 * `commit` and aborted on `abort`. Writes respect back-pressure. With `staged`, the
 * complete file is left for someone else to publish (see OutputCommit): locally under the
 * `staged` path, flushed; in object storage as an incomplete upload (`pendingUpload`).
 */
export class AtomicFile {
  private failure: unknown = undefined
  private closed = false
  private draining: Promise<void> | undefined = undefined
  private pending: ObjectStore.PendingUpload | undefined = undefined

  private constructor(
    readonly path: string,
    private readonly head: Writable,
    private readonly sink: ObjectStore.OutputSink,
    private readonly done: Promise<void>
  ) {}

  static async open(target: string, codec: Codec, level: number, staged?: string): Promise<AtomicFile> {
    if (codec === "zstd") await loadZstd()
    let sink: ObjectStore.OutputSink
    try {
      sink = await ObjectStore.of(target).output(target, staged)
    } catch (e) {
      // Fails its shard at once, not as a user error tried again maxShardFailures times. A staged
      // file is in the execution's directory, whose failures are the machine's (StorageError).
      if (!isUnwritable(e) || (staged !== undefined && (e as NodeJS.ErrnoException).path === staged)) throw e
      throw dataError(`Cannot write the output ${target}: ${errorMessage(e)}. Choose an output path in a directory you can create and write to.`, { file: target, cause: e })
    }
    const transform = compressor(codec, level)
    const done = transform === null ? sink.finished : pipeline(transform, sink.stream)
    const out = new AtomicFile(target, transform ?? sink.stream, sink, done)
    done.catch((e) => { out.failure = e })
    return out
  }

  /**
   * Appends bytes. Resolves at once after handing them over, but first waits until the
   * previous write drained: one write stays in flight, so the caller encodes the next
   * chunk while zlib compresses this one on the thread pool.
   */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.failure !== undefined) throw this.failure
    if (bytes.length === 0) return
    await this.draining
    if (this.head.write(bytes)) {
      this.draining = undefined
      return
    }
    const draining = Promise.race([once(this.head, "drain").then(() => {}), this.done])
    draining.catch(() => { /* seen by the next write, commit or abort */ })
    this.draining = draining
  }

  /** Finishes the stream, publishes the file durably (unless staged), and returns its size in bytes. */
  async commit(io: AtomicWrite.AsyncIo = AtomicWrite.nodeAsyncIo): Promise<number> {
    await this.draining
    this.head.end()
    await this.done
    this.closed = true
    this.pending = await this.sink.publish(io)
    return this.sink.bytesWritten()
  }

  /** A staged object-storage output after `commit`: the upload the driver completes or aborts. */
  get pendingUpload(): ObjectStore.PendingUpload | undefined {
    return this.pending
  }

  /** Drops the temporary file or upload (after a failure). */
  async abort(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.head.destroy()
    await this.done.catch(() => {})
    await this.sink.discard()
  }
}
