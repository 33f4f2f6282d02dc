import * as fs from "node:fs"
import * as path from "node:path"
import { randomUUID } from "node:crypto"
import * as Msgpackr from "msgpackr"
import * as Directory from "./Directory.ts"
import { StorageError } from "./StorageError.ts"

/**
 * Files of length-prefixed msgpack blocks: `[u32 byteLength][u32 itemCount][msgpack array]`
 * repeated. Writers write under a unique temporary name and rename on close, so racing
 * attempts never see each other's partial files. Readers are synchronous and stream one
 * block at a time; the item count in each header lets a reader skip blocks undecoded.
 */
const packr = new Msgpackr.Packr({ useRecords: false, moreTypes: true, useBigIntExtension: true })
const unpackr = new Msgpackr.Unpackr({ useRecords: false, moreTypes: true, useBigIntExtension: true })

/**
 * msgpackr's native string decoder (msgpackr-extract) decodes large blocks 15–35% faster; the
 * built engine loads it when blocks are first read (scripts/build.mjs, msgpackrNativeOnDemand),
 * not at every process's start. From the sources, msgpackr has loaded it already.
 */
const nativeDecoder = (Msgpackr as { readonly loadNativeAcceleration?: () => void }).loadNativeAcceleration ?? (() => undefined)

export const encode = (value: unknown): Buffer => packr.pack(value)
export const decode = (bytes: Uint8Array): unknown => unpackr.unpack(bytes)

/** A few items carried inside a message instead of a file. */
export const inline = (items: ReadonlyArray<unknown>): { readonly kind: "inline"; readonly count: number; readonly bytes: Uint8Array } =>
  ({ kind: "inline", count: items.length, bytes: encode(items) })

export const inlineItems = (ref: { readonly bytes: Uint8Array }): Array<unknown> => decode(ref.bytes) as Array<unknown>

export interface Written {
  readonly path: string
  readonly count: number
  readonly bytes: number
}

const HEADER = 8

export class BlockWriter {
  private readonly fd: number
  private readonly tmp: string
  private count = 0
  private bytes = 0
  private closed = false

  constructor(readonly path: string) {
    Directory.make(path.substring(0, path.lastIndexOf("/")) || ".")
    this.tmp = `${path}.tmp-${randomUUID().slice(0, 8)}`
    this.fd = fs.openSync(this.tmp, "w")
  }

  /** Writes one block; empty blocks are skipped. */
  write(items: ReadonlyArray<unknown>): void {
    if (items.length === 0) return
    const body = packr.pack(items)
    const head = Buffer.allocUnsafe(HEADER)
    head.writeUInt32LE(body.length, 0)
    head.writeUInt32LE(items.length, 4)
    fs.writeSync(this.fd, head)
    fs.writeSync(this.fd, body)
    this.count += items.length
    this.bytes += HEADER + body.length
  }

  get itemCount(): number { return this.count }
  get byteCount(): number { return this.bytes }

  /** Closes and publishes the file under its final name. */
  close(): Written {
    if (!this.closed) {
      this.closed = true
      fs.closeSync(this.fd)
      fs.renameSync(this.tmp, this.path)
    }
    return { path: this.path, count: this.count, bytes: this.bytes }
  }

  /** Closes and removes the temporary file (on failure). */
  abort(): void {
    if (this.closed) return
    this.closed = true
    try { fs.closeSync(this.fd) } catch { /* already closed */ }
    fs.rmSync(this.tmp, { force: true })
  }
}

/** A unique file name for an attempt's output, so two attempts never write the same file. */
export const uniqueName = (dir: string, stem: string, ext: string): string =>
  path.join(dir, `${stem}-${randomUUID().slice(0, 12)}${ext}`)

/**
 * Reads the blocks of a file (or of a byte range of it), yielding arrays of items. With
 * `skip`/`take` only items in [skip, skip + take) are returned, and whole blocks before
 * `skip` are not decoded.
 */
export function* read(file: string, options: { readonly offset?: number; readonly length?: number; readonly skip?: number; readonly take?: number; readonly onBytes?: ((n: number) => void) | undefined } = {}): Generator<Array<unknown>> {
  nativeDecoder()
  const fd = fs.openSync(file, "r")
  try {
    let pos = options.offset ?? 0
    const end = options.length === undefined ? fs.fstatSync(fd).size : pos + options.length
    let skip = options.skip ?? 0
    let take = options.take ?? Infinity
    const head = Buffer.allocUnsafe(HEADER)
    let body = Buffer.allocUnsafe(1 << 16)
    while (pos < end && take > 0) {
      if (fs.readSync(fd, head, 0, HEADER, pos) !== HEADER) throw new StorageError(`Truncated block header in ${file} at byte ${pos}`)
      const len = head.readUInt32LE(0)
      const count = head.readUInt32LE(4)
      pos += HEADER
      if (skip >= count) { skip -= count; pos += len; continue }
      if (body.length < len) body = Buffer.allocUnsafe(Math.max(len, body.length * 2))
      if (fs.readSync(fd, body, 0, len, pos) !== len) throw new StorageError(`Truncated block in ${file} at byte ${pos}`)
      pos += len
      options.onBytes?.(HEADER + len)
      let items = unpackr.unpack(body.subarray(0, len)) as Array<unknown>
      if (skip > 0 || take < items.length - skip) items = items.slice(skip, skip + Math.min(take, items.length - skip))
      skip = 0
      take -= items.length
      if (items.length > 0) yield items
    }
  } finally {
    fs.closeSync(fd)
  }
}

/** The bytes of a file holding `items` as one block, for a file written whole (to object storage). */
export const encodeFile = (items: ReadonlyArray<unknown>): Buffer => {
  if (items.length === 0) return Buffer.alloc(0)
  const body = packr.pack(items)
  const head = Buffer.allocUnsafe(HEADER)
  head.writeUInt32LE(body.length, 0)
  head.writeUInt32LE(items.length, 4)
  return Buffer.concat([head, body])
}

/** The blocks of a whole file's bytes (a small file read whole from object storage). */
export function* decodeBlocks(bytes: Uint8Array): Generator<Array<unknown>> {
  nativeDecoder()
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  while (pos < buf.length) {
    if (pos + HEADER > buf.length) throw new StorageError(`Truncated block header at byte ${pos}`)
    const len = buf.readUInt32LE(pos)
    pos += HEADER
    if (pos + len > buf.length) throw new StorageError(`Truncated block at byte ${pos}`)
    yield unpackr.unpack(buf.subarray(pos, pos + len)) as Array<unknown>
    pos += len
  }
}
