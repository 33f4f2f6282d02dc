import * as path from "node:path"

/**
 * Whether a task failed because of the machine rather than the user's code or data: a
 * disk error in chunk storage (a run file that is missing or truncated, a scratch
 * directory that vanished) or a disk that is full or failing wherever it was written.
 * Such a failure is retried with a new attempt on another worker and counted in
 * `maxShardInfraFailures`, never in `maxShardFailures`.
 */
export class StorageError extends Error {}

/** Errors of a full or failing disk (or of a process out of file descriptors), whatever the file. */
const MACHINE_CODES = new Set(["ENOSPC", "EDQUOT", "EIO", "EROFS", "EMFILE", "ENFILE"])

interface SystemError { readonly code: string; readonly syscall: string; readonly path?: unknown; readonly dest?: unknown }

const isSystemError = (e: unknown): e is SystemError =>
  e instanceof Error && typeof (e as Partial<SystemError>).code === "string" && typeof (e as Partial<SystemError>).syscall === "string"

const isUnder = (file: unknown, dir: string): boolean => {
  if (typeof file !== "string") return false
  const rel = path.relative(path.resolve(dir), path.resolve(file))
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel))
}

export const isInfrastructure = (e: unknown, executionDir: string): boolean => {
  if (e instanceof StorageError) return true
  if (!isSystemError(e)) return false
  return MACHINE_CODES.has(e.code) || isUnder(e.path, executionDir) || isUnder(e.dest, executionDir)
}
