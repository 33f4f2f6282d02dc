import * as fs from "node:fs"
import { Writable } from "node:stream"
import { pipeline } from "node:stream/promises"
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand
} from "@aws-sdk/client-s3"
import { ObjectStoreError, type OutputSink, type PendingUpload, type RandomAccess, READ_CHUNK, type Stat } from "./ObjectStore.ts"
import * as S3Options from "./S3Options.ts"
import * as StoragePath from "./StoragePath.ts"

/**
 * The object store of `s3://` URLs on the AWS SDK (`@aws-sdk/client-s3`), for AWS S3 and
 * compatible stores (MinIO, Ceph, R2, ...). Loaded only when an `s3://` path is used
 * (ObjectStore.s3), so the SDK costs nothing to other runs.
 *
 * - Reads stream one GET's body; a body cut off mid-way is resumed with a ranged GET from
 *   where it stopped (if the object is still the same one, by ETag).
 * - Random reads (Parquet) are ranged GETs: the footer, then the column chunks asked for.
 * - Outputs are multipart uploads, created on the first full part (a small file is one PUT):
 *   the object appears only when the upload completes. A staged output's upload is left
 *   incomplete, its id and parts handed to the driver, which completes it for the accepted
 *   attempt only (OutputCommit) and aborts the others.
 */

/** The SDK retries throttling and 5xx answers itself; this many attempts per request. */
const MAX_ATTEMPTS = 4
/** A TCP connection that does not open within this long fails the request (a blackholed endpoint would otherwise hang for minutes). */
const CONNECT_TIMEOUT_MS = 10_000
/** Multipart parts start at this size (S3's minimum is 5 MiB) and double every PARTS_PER_SIZE parts, so a huge file stays within a few hundred parts. */
export const PART_BYTES = 8 << 20
const PARTS_PER_SIZE = 100
/** Files up to this size are uploaded with one PUT. */
const SINGLE_PUT_BYTES = 16 << 20
/** A stream cut off mid-way is resumed this many times. */
const RESUMES = 3

export const partSize = (partNumber: number): number => PART_BYTES * 2 ** Math.floor((partNumber - 1) / PARTS_PER_SIZE)

interface SdkError {
  readonly name?: string
  readonly code?: string
  readonly message?: string
  readonly Code?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "ECONNABORTED"])

export class S3Store {
  readonly kind = "s3" as const
  private readonly client: S3Client

  constructor(private readonly settings: S3Options.Settings) {
    // The SDK warns once per process that later releases need Node 22; this release is pinned and runs on 20.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"
    this.client = new S3Client({
      region: settings.region,
      ...(settings.endpoint !== undefined ? { endpoint: settings.endpoint } : {}),
      forcePathStyle: settings.forcePathStyle,
      followRegionRedirects: true,
      maxAttempts: MAX_ATTEMPTS,
      // Compatible stores reject the newer default checksums (aws-chunked bodies, CRC trailers).
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      requestHandler: { connectionTimeout: CONNECT_TIMEOUT_MS }
    })
  }

  private get endpoint(): string {
    return this.settings.endpoint ?? `AWS S3 (region ${this.settings.region})`
  }

  /** The SDK's error as an ObjectStoreError whose message names the URL and what to change. */
  failure(e: unknown, url: string, action: string): ObjectStoreError {
    if (e instanceof ObjectStoreError) return e
    const err = (e ?? {}) as SdkError
    const status = err.$metadata?.httpStatusCode
    const code = err.Code ?? err.name ?? err.code ?? "Error"
    const detail = (err.message ?? String(e)).replace(/\s+/g, " ").trim()
    const { bucket } = StoragePath.parse(url)
    const where = `${url} at ${this.endpoint}`
    if (err.name === "CredentialsProviderError" || /Could not load credentials/i.test(detail)) {
      return new ObjectStoreError("credentials", url, `No AWS credentials to ${action} ${url}: set ${S3Options.CREDENTIALS} in the environment of the driver and of every worker (${detail}).`)
    }
    if (NETWORK_CODES.has(err.code ?? "") || NETWORK_CODES.has(code) || err.name === "TimeoutError" || (status === undefined && /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|socket hang up|timed? ?out/i.test(detail))) {
      return new ObjectStoreError("unreachable", url, `Cannot reach the object store at ${this.endpoint} to ${action} ${url}: ${detail}. Check the endpoint: ${S3Options.endpointAdvice(this.settings)}.`)
    }
    if (code === "NoSuchBucket") {
      return new ObjectStoreError("no-bucket", url, `The bucket ${JSON.stringify(bucket)} does not exist at ${this.endpoint} (to ${action} ${url}). Check the URL; if the bucket lives on another store, fix the endpoint: ${S3Options.endpointAdvice(this.settings)}.`)
    }
    if (code === "NoSuchKey" || code === "NotFound" || status === 404) {
      return new ObjectStoreError("not-found", url, `${url} does not exist (at ${this.endpoint}).`)
    }
    if (status === 403 || /AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|InvalidToken|Forbidden/.test(code)) {
      return new ObjectStoreError("access", url, `Access denied to ${action} ${where} (${code}: ${detail}). Check the credentials of this process (${S3Options.CREDENTIALS}) and that they may ${action} in bucket ${JSON.stringify(bucket)}.`)
    }
    if (status === 301 || code === "PermanentRedirect" || code === "AuthorizationHeaderMalformed" || code === "IllegalLocationConstraintException") {
      return new ObjectStoreError("access", url, `The bucket ${JSON.stringify(bucket)} is not in region ${this.settings.region} (${code}: ${detail}). Set the bucket's region: ${S3Options.regionAdvice(this.settings)}.`)
    }
    return new ObjectStoreError("unavailable", url, `Object storage failed to ${action} ${where}: ${code}${status ? ` (HTTP ${status})` : ""}: ${detail}`)
  }

  private async send<T>(url: string, action: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f()
    } catch (e) {
      throw this.failure(e, url, action)
    }
  }

  async stat(url: string): Promise<Stat | undefined> {
    const { bucket, key } = StoragePath.parse(url)
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))
      return { size: r.ContentLength ?? 0, mtimeMs: r.LastModified?.getTime() ?? 0 }
    } catch (e) {
      const f = this.failure(e, url, "read")
      if (f.kind === "not-found") return undefined
      throw f
    }
  }

  /** Every object whose key starts with `prefix` (a raw key prefix, not a directory), in key order, with size and modification time. */
  async *list(bucket: string, prefix: string): AsyncGenerator<{ readonly key: string; readonly size: number; readonly mtimeMs: number; readonly etag: string }> {
    const url = StoragePath.format({ bucket, key: prefix })
    let token: string | undefined
    do {
      const page = await this.send(url, "list", () => this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ...(token !== undefined ? { ContinuationToken: token } : {}) })))
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue
        yield { key: o.Key, size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0, etag: o.ETag ?? "" }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (token !== undefined)
  }

  /** Whether the bucket can be listed at `url`'s prefix (the driver's check of a chunk directory before anything runs). */
  async checkAccess(url: string): Promise<void> {
    const { bucket, key } = StoragePath.parse(url)
    // One page of the default size: some compatible stores (s3rver) cannot continue a truncated listing.
    await this.send(url, "list", () => this.client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key })))
  }

  private async get(url: string, range?: { readonly start: number; readonly end?: number | undefined }, etag?: string) {
    const { bucket, key } = StoragePath.parse(url)
    return this.send(url, "read", () => this.client.send(new GetObjectCommand({
      Bucket: bucket,
      Key: key,
      ...(range !== undefined ? { Range: `bytes=${range.start}-${range.end === undefined ? "" : range.end - 1}` } : {}),
      ...(etag ? { IfMatch: etag } : {})
    })))
  }

  async *chunks(url: string, onRead: (n: number) => void, state: { read: number; size: number }): AsyncGenerator<Buffer> {
    let response = await this.get(url)
    state.size = response.ContentLength ?? 0
    const etag = response.ETag
    for (let resumes = 0; ;) {
      const body = response.Body as (AsyncIterable<Uint8Array> & { destroy?: () => void }) | undefined
      if (body === undefined) return
      try {
        // Pieces of READ_CHUNK: a reader's line splitting and parsing run fastest on them.
        let pending: Array<Buffer> = []
        let pendingBytes = 0
        for await (const piece of body) {
          const buf = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength)
          pending.push(buf)
          pendingBytes += buf.length
          if (pendingBytes >= READ_CHUNK) {
            const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes)
            pending = []
            pendingBytes = 0
            state.read += out.length
            onRead(out.length)
            yield out
          }
        }
        if (pendingBytes > 0) {
          const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes)
          state.read += out.length
          onRead(out.length)
          yield out
        }
        if (state.read >= state.size) return
        throw new Error(`the body ended after ${state.read} of ${state.size} bytes`)
      } catch (e) {
        if (e instanceof ObjectStoreError || resumes >= RESUMES || state.read >= state.size) throw e instanceof ObjectStoreError ? e : this.failure(e, url, "read")
        resumes++
        response = await this.get(url, { start: state.read }, etag)
      } finally {
        body.destroy?.()
      }
    }
  }

  async random(url: string, onRead: (n: number) => void): Promise<RandomAccess> {
    const stat = await this.stat(url)
    if (stat === undefined) throw new ObjectStoreError("not-found", url, `${url} does not exist (at ${this.endpoint}).`)
    const size = stat.size
    return {
      size,
      read: async (start, end) => {
        const stop = Math.min(end, size)
        if (stop <= start) return new Uint8Array(0)
        const r = await this.get(url, { start, end: stop })
        const bytes = await this.send(url, "read", () => r.Body!.transformToByteArray())
        onRead(bytes.length)
        return bytes
      },
      close: async () => {}
    }
  }

  /** Bytes [start, end) of an object, into a local file (a shuffle segment, a chunk file). */
  async download(url: string, file: string, range?: { readonly start: number; readonly end: number }): Promise<number> {
    if (range !== undefined && range.end <= range.start) {
      await fs.promises.writeFile(file, new Uint8Array(0))
      return 0
    }
    const r = await this.get(url, range)
    const out = fs.createWriteStream(file)
    try {
      await pipeline(r.Body as NodeJS.ReadableStream, out)
    } catch (e) {
      throw this.failure(e, url, "read")
    }
    return out.bytesWritten
  }

  async readFile(url: string): Promise<Uint8Array | undefined> {
    try {
      const r = await this.get(url)
      return await r.Body!.transformToByteArray()
    } catch (e) {
      const f = this.failure(e, url, "read")
      if (f.kind === "not-found") return undefined
      throw f
    }
  }

  async writeFile(url: string, bytes: Uint8Array): Promise<void> {
    const { bucket, key } = StoragePath.parse(url)
    await this.send(url, "write", () => this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength })))
  }

  /**
   * Writes `bytes` only if no object has that key yet (a conditional PUT): false when one
   * has. Stores that ignore the condition (some compatible ones) overwrite instead.
   */
  async createExclusive(url: string, bytes: Uint8Array): Promise<boolean> {
    const { bucket, key } = StoragePath.parse(url)
    try {
      await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes, ContentLength: bytes.byteLength, IfNoneMatch: "*" }))
      return true
    } catch (e) {
      const status = (e as SdkError).$metadata?.httpStatusCode
      if (status === 412 || status === 409) return false
      throw this.failure(e, url, "write")
    }
  }

  async remove(url: string): Promise<void> {
    const { bucket, key } = StoragePath.parse(url)
    await this.send(url, "delete", () => this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })))
  }

  /** Removes every object under `url` taken as a directory (its key and a `/`). */
  async removeTree(url: string): Promise<number> {
    const location = StoragePath.parse(url)
    const prefix = StoragePath.prefixOf(location)
    if (prefix === "") throw new Error(`Internal: refusing to remove a whole bucket (${url})`)
    let removed = 0
    let batch: Array<{ Key: string }> = []
    const flush = async () => {
      if (batch.length === 0) return
      const objects = batch
      batch = []
      const r = await this.send(url, "delete", () => this.client.send(new DeleteObjectsCommand({ Bucket: location.bucket, Delete: { Objects: objects, Quiet: true } })))
      if (r.Errors !== undefined && r.Errors.length > 0) {
        const first = r.Errors[0]!
        throw new ObjectStoreError("unavailable", url, `Object storage failed to delete ${StoragePath.format({ bucket: location.bucket, key: first.Key ?? "" })} (and ${r.Errors.length - 1} more) under ${url}: ${first.Code}: ${first.Message}`)
      }
      removed += objects.length
    }
    for await (const o of this.list(location.bucket, prefix)) {
      batch.push({ Key: o.key })
      if (batch.length >= 1000) await flush()
    }
    await flush()
    return removed
  }

  /** A local file as an object: one PUT up to SINGLE_PUT_BYTES, a multipart upload beyond. */
  async upload(file: string, url: string): Promise<void> {
    const size = (await fs.promises.stat(file)).size
    if (size <= SINGLE_PUT_BYTES) {
      await this.writeFile(url, await fs.promises.readFile(file))
      return
    }
    const upload = await this.createUpload(url)
    const handle = await fs.promises.open(file, "r")
    try {
      let position = 0
      for (let part = 1; position < size; part++) {
        const length = Math.min(partSize(part), size - position)
        const buf = Buffer.allocUnsafe(length)
        const { bytesRead } = await handle.read(buf, 0, length, position)
        position += bytesRead
        await upload.part(part, buf.subarray(0, bytesRead))
      }
      await this.complete(url, { uploadId: upload.uploadId, parts: upload.parts })
    } catch (e) {
      await this.abort(url, upload.uploadId)
      throw e
    } finally {
      await handle.close()
    }
  }

  private async createUpload(url: string): Promise<{ readonly uploadId: string; readonly parts: Array<readonly [number, string]>; readonly part: (n: number, bytes: Uint8Array) => Promise<void> }> {
    const { bucket, key } = StoragePath.parse(url)
    const created = await this.send(url, "write", () => this.client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })))
    const uploadId = created.UploadId
    if (uploadId === undefined) throw new ObjectStoreError("unavailable", url, `Object storage gave no upload id for ${url} (at ${this.endpoint}).`)
    const parts: Array<readonly [number, string]> = []
    return {
      uploadId,
      parts,
      part: async (n, bytes) => {
        const r = await this.send(url, "write", () => this.client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: n, Body: bytes, ContentLength: bytes.byteLength })))
        parts.push([n, r.ETag ?? ""])
      }
    }
  }

  /** Makes a multipart upload's object appear under its key (OutputCommit, for the accepted attempt). */
  async complete(url: string, upload: PendingUpload): Promise<void> {
    const { bucket, key } = StoragePath.parse(url)
    const parts = [...upload.parts].sort((a, b) => a[0] - b[0]).map(([PartNumber, ETag]) => ({ PartNumber, ETag }))
    await this.send(url, "write", () => this.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.uploadId, MultipartUpload: { Parts: parts } })))
  }

  /** Drops an incomplete upload (best effort: some compatible stores cannot, and S3's lifecycle rules clean up the rest). */
  async abort(url: string, uploadId: string): Promise<void> {
    const { bucket, key } = StoragePath.parse(url)
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(() => {})
  }

  async output(url: string, staged: boolean): Promise<OutputSink> {
    StoragePath.parse(url)
    return new UploadSink(this, url, staged).sink()
  }

  /** For UploadSink. */
  startUpload(url: string) {
    return this.createUpload(url)
  }
}

/**
 * An output written as a multipart upload: bytes gather into a part; a full part is
 * uploaded while the next one fills (one part in flight: a write waits for the previous
 * upload, which is the back-pressure). A file smaller than a part is one PUT on publish,
 * unless staged (the driver then completes an upload of one part).
 */
class UploadSink {
  private buffers: Array<Buffer> = []
  private buffered = 0
  private written = 0
  private upload: Awaited<ReturnType<S3Store["startUpload"]>> | undefined
  private inFlight: Promise<void> | undefined
  private nextPart = 1

  constructor(private readonly store: S3Store, private readonly url: string, private readonly staged: boolean) {}

  private take(): Buffer {
    const out = this.buffers.length === 1 ? this.buffers[0]! : Buffer.concat(this.buffers, this.buffered)
    this.buffers = []
    this.buffered = 0
    return out
  }

  /**
   * Queues a part behind the one in flight (the upload is created with the first) and
   * resolves when that previous one is done: the caller may fill the next part meanwhile.
   * Everything sent, creation included, is in `inFlight`, so an abort waits for it and then
   * knows the upload to abort.
   */
  private sendPart(bytes: Buffer): Promise<void> {
    const previous = this.inFlight
    const n = this.nextPart++
    const sending = (async () => {
      await previous
      this.upload ??= await this.store.startUpload(this.url)
      await this.upload.part(n, bytes)
    })()
    this.inFlight = sending
    sending.catch(() => { /* seen by the next write or the end */ })
    return previous ?? Promise.resolve()
  }

  sink(): OutputSink {
    const self = this
    let ended = false
    const stream = new Writable({
      highWaterMark: 1 << 20,
      write(chunk: Buffer, _encoding, callback) {
        self.buffers.push(chunk)
        self.buffered += chunk.length
        self.written += chunk.length
        if (self.buffered < partSize(self.nextPart)) return callback()
        self.sendPart(self.take()).then(() => callback(), (e) => callback(e as Error))
      },
      final(callback) {
        ended = true
        callback()
      }
    })
    // Settles on close too: a stream destroyed on a failure emits neither finish nor error.
    const finished = new Promise<void>((resolve, reject) => {
      stream.once("finish", () => resolve())
      stream.once("error", reject)
      stream.once("close", () => (stream.writableFinished ? resolve() : reject(new Error(`the upload of ${this.url} was closed before it finished`))))
    })
    finished.catch(() => { /* seen by the writer */ })
    return {
      stream,
      finished,
      bytesWritten: () => this.written,
      publish: async () => {
        if (!ended) throw new Error(`Internal: ${this.url} published before its stream ended`)
        try {
          // No part sent yet: a small file is one PUT (a staged one still needs its upload).
          if (this.nextPart === 1 && !this.staged) {
            await this.store.writeFile(this.url, this.take())
            return undefined
          }
          if (this.buffered > 0 || this.nextPart === 1) await this.sendPart(this.take())
          await this.inFlight
          const pending = { uploadId: this.upload!.uploadId, parts: [...this.upload!.parts] }
          if (this.staged) return pending
          await this.store.complete(this.url, pending)
          return undefined
        } catch (e) {
          await this.abortUpload()
          throw e
        }
      },
      discard: async () => {
        stream.destroy()
        await this.abortUpload()
      }
    }
  }

  private async abortUpload(): Promise<void> {
    this.buffers = []
    this.buffered = 0
    await this.inFlight?.catch(() => {})
    if (this.upload !== undefined) await this.store.abort(this.url, this.upload.uploadId)
  }
}
