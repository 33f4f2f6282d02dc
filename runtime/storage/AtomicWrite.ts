import * as fs from "node:fs"
import * as path from "node:path"
import { randomUUID } from "node:crypto"
import * as Directory from "./Directory.ts"

/**
 * Publishing a file: it is written under a temporary name in the same directory and then
 * renamed (or hard-linked) to its final name, so readers see the old file or the whole new
 * one, never a part. A durable publish also survives a machine crash: the file's bytes
 * are flushed before the rename (else the name could point at an empty file after a power
 * loss) and the directory after it (else the rename itself could be lost).
 */

/** The calls a publish makes, in order; a parameter so that tests can watch them. */
export interface Io {
  readonly syncFile: (file: string) => void
  readonly rename: (from: string, to: string) => void
  /** Fails with EEXIST when `to` exists. */
  readonly link: (from: string, to: string) => void
  readonly syncDir: (dir: string) => void
}

const syncPath = (file: string, flags: string): void => {
  const fd = fs.openSync(file, flags)
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Some platforms and file systems cannot open or flush a directory; the rename stands. */
const ignorableDirSync = (e: unknown): boolean =>
  ["EISDIR", "EPERM", "EINVAL", "EACCES", "ENOTSUP"].includes((e as NodeJS.ErrnoException)?.code ?? "")

export const nodeIo: Io = {
  syncFile: (file) => syncPath(file, "r+"),
  rename: (from, to) => fs.renameSync(from, to),
  link: (from, to) => fs.linkSync(from, to),
  syncDir: (dir) => {
    try {
      syncPath(dir, "r")
    } catch (e) {
      if (!ignorableDirSync(e)) throw e
    }
  }
}

/** Flushes `tmp`, renames it over `target`, flushes the directory. */
export const publishSync = (tmp: string, target: string, io: Io = nodeIo): void => {
  io.syncFile(tmp)
  io.rename(tmp, target)
  io.syncDir(path.dirname(target))
}

/** Like `publishSync`, but `target` must not exist yet (EEXIST otherwise): the first publisher wins. */
export const publishNewSync = (tmp: string, target: string, io: Io = nodeIo): void => {
  io.syncFile(tmp)
  io.link(tmp, target)
  io.syncDir(path.dirname(target))
}

/** The asynchronous calls of a publish (a large output's flush must not block the event loop). */
export interface AsyncIo {
  readonly syncFile: (file: string) => Promise<void>
  readonly rename: (from: string, to: string) => Promise<void>
  readonly syncDir: (dir: string) => Promise<void>
}

const syncPathAsync = async (file: string, flags: string): Promise<void> => {
  const handle = await fs.promises.open(file, flags)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

export const nodeAsyncIo: AsyncIo = {
  syncFile: (file) => syncPathAsync(file, "r+"),
  rename: (from, to) => fs.promises.rename(from, to),
  syncDir: (dir) => syncPathAsync(dir, "r").catch((e) => {
    if (!ignorableDirSync(e)) throw e
  })
}

/** Flushes a file that someone else publishes later (a staged output: see OutputCommit). */
export const flushFile = (file: string, io: AsyncIo = nodeAsyncIo): Promise<void> => io.syncFile(file)

/** The asynchronous `publishSync`, for outputs written by streams. */
export const publish = async (tmp: string, target: string, io: AsyncIo = nodeAsyncIo): Promise<void> => {
  await io.syncFile(tmp)
  await io.rename(tmp, target)
  await io.syncDir(path.dirname(target))
}

export const temporaryName = (file: string): string => `${file}.tmp-${randomUUID().slice(0, 8)}`

/**
 * Writes a small file atomically and durably. Parent directories are created. `durable:
 * false` skips the flushes, for files whose loss a reader notices and recovers from (a
 * shuffle manifest: a resumed run that finds it missing reruns the stage).
 */
export const writeFileSync = (file: string, data: string | Uint8Array, options: { readonly durable?: boolean } = {}): void => {
  Directory.make(path.dirname(file))
  const tmp = temporaryName(file)
  try {
    fs.writeFileSync(tmp, data)
    if (options.durable === false) fs.renameSync(tmp, file)
    else publishSync(tmp, file)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw e
  }
}
