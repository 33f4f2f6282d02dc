import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { once } from "node:events"
import type { Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import * as AtomicWrite from "../storage/AtomicWrite.ts"
import { compressor, loadZstd } from "./Compression.ts"
import type { Codec } from "./FileType.ts"

/**
 * An output file that appears under its final name only when complete: bytes go (through
 * the codec's compressor) to a hidden temporary file in the same directory, which is
 * renamed over the target on `commit` (flushed to disk first, its directory after: a
 * published output survives a machine crash) and removed on `abort`. Parent directories
 * are created. Writes respect back-pressure. With `staged`, bytes go to that file instead and
 * `commit` flushes it and leaves it there: someone else publishes it (see OutputCommit).
 */
export class AtomicFile {
  private failure: unknown = undefined
  private closed = false
  private draining: Promise<void> | undefined = undefined

  private constructor(
    readonly path: string,
    private readonly tmp: string,
    private readonly head: Writable,
    private readonly file: fs.WriteStream,
    private readonly done: Promise<void>,
    private readonly rename: boolean
  ) {}

  static async open(target: string, codec: Codec, level: number, staged?: string): Promise<AtomicFile> {
    const dir = path.dirname(target)
    await fs.promises.mkdir(dir, { recursive: true })
    if (codec === "zstd") await loadZstd()
    const tmp = staged ?? path.join(dir, `.${path.basename(target)}.tmp-${randomUUID().slice(0, 8)}`)
    const file = fs.createWriteStream(tmp, { highWaterMark: 1 << 20 })
    await once(file, "open")
    const transform = compressor(codec, level)
    const done = transform === null ? pipelineless(file) : pipeline(transform, file)
    const out = new AtomicFile(target, tmp, transform ?? file, file, done, staged === undefined)
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
    try {
      if (this.rename) await AtomicWrite.publish(this.tmp, this.path, io)
      else await AtomicWrite.flushFile(this.tmp, io)
    } catch (e) {
      await fs.promises.rm(this.tmp, { force: true })
      throw e
    }
    return this.file.bytesWritten
  }

  /** Drops the temporary file (after a failure). */
  async abort(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.head.destroy()
    this.file.destroy()
    await this.done.catch(() => {})
    await fs.promises.rm(this.tmp, { force: true })
  }
}

/** Completion of a bare file stream, like `pipeline` gives for a chain. */
const pipelineless = (file: fs.WriteStream): Promise<void> =>
  new Promise((resolve, reject) => {
    file.once("close", () => (file.writableFinished ? resolve() : reject(new Error(`${file.path} closed before it finished`))))
    file.once("error", reject)
  })
