import { type WorkerReason, ZephyrWorkerError } from "../../plan/Errors.ts"
import { isObjectStoreError } from "../storage/ObjectStore.ts"
import { StorageError } from "../storage/StorageError.ts"

/**
 * A deterministic problem with a file's data or with the options it is read or written
 * with. The runtime does not retry these; genuine I/O errors (see `isIoError`) are thrown
 * as they are instead, so they can be.
 */
export const dataError = (
  message: string,
  where: { readonly file?: string | undefined; readonly line?: number | undefined; readonly cause?: unknown; readonly reason?: WorkerReason } = {}
): ZephyrWorkerError =>
  new ZephyrWorkerError({
    reason: where.reason ?? "bad-data",
    message,
    ...(where.file === undefined ? {} : { file: where.file }),
    ...(where.line === undefined ? {} : { line: where.line }),
    ...(where.cause === undefined ? {} : { cause: causeText(where.cause) })
  })

/** The message of anything thrown. */
export const errorMessage = (e: unknown): string => (e instanceof Error ? e.message : String(e))

const causeText = (e: unknown): string =>
  e instanceof Error ? `${e.name}: ${e.message}${e.stack ? `\n${e.stack.split("\n").slice(1).join("\n")}` : ""}` : String(e)

/** A system call failed (EIO, EMFILE, ENOSPC, ...): not a property of the data, so not wrapped. */
export const isIoError = (e: unknown): boolean =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" && typeof (e as NodeJS.ErrnoException).syscall === "string"

/**
 * A missing input (or a directory where a file was expected) is a data error: the file list
 * came from a glob, so retrying cannot make the file appear.
 */
export const isMissingFile = (e: unknown): boolean => {
  const code = (e as NodeJS.ErrnoException | undefined)?.code
  return isIoError(e) && (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR")
}

/**
 * A failed request to object storage, as the runtime handles it: a missing object or bucket
 * is missing input, refused access, missing credentials and an unreachable endpoint are the
 * user's to fix (not retried; the message names the URL and the option), and a store that
 * keeps failing after the SDK's own retries is the machine's (StorageError: retried as an
 * infrastructure failure). Anything else is returned as it is.
 */
export const fromObjectStore = (e: unknown): unknown => {
  if (!isObjectStoreError(e)) return e
  switch (e.kind) {
    case "not-found":
    case "no-bucket":
      return dataError(e.message, { file: e.url, reason: "missing-input" })
    case "access":
    case "credentials":
    case "unreachable":
      return dataError(e.message, { file: e.url, reason: "storage-access" })
    case "unavailable":
      return new StorageError(e.message)
  }
}

/**
 * A place no file can be written, however often it is asked (a directory that cannot be
 * created, a file that cannot be opened): the output path is the user's to change.
 */
export const isUnwritable = (e: unknown): boolean =>
  isIoError(e) && ["EACCES", "EPERM", "EROFS", "ENOENT", "ENOTDIR", "EEXIST", "EISDIR"].includes((e as NodeJS.ErrnoException).code!)
