import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ZephyrInfraError } from "../../plan/Errors.ts"
import * as Directory from "./Directory.ts"
import * as StoragePath from "./StoragePath.ts"

/**
 * The chunk directory: where executions keep their stage outputs. The default is private
 * to the user, `<tmp>/zephyr-<uid>/chunks` with mode 0700, because chunks hold the user's
 * data and a shared temp dir lets other users read them, plant files or swap a directory
 * for a symlink. `$ZEPHYR_CHUNK_DIR` (or `chunkDir`, `--chunk-dir`) names another one.
 */

/** The user's name in the default path: the uid where there is one (POSIX), else the login name. */
const owner = (): string => {
  const uid = process.getuid?.()
  if (uid !== undefined) return String(uid)
  try {
    return os.userInfo().username.replace(/[^\w.-]/g, "_")
  } catch {
    return "user"
  }
}

/** `<tmp>/zephyr-<uid>`: created 0700, refused when it belongs to someone else. */
export const userRoot = (): string => path.join(os.tmpdir(), `zephyr-${owner()}`)

/** The chunk directory when none is named: `$ZEPHYR_CHUNK_DIR`, else `<tmp>/zephyr-<uid>/chunks`. */
export const defaultPath = (): string => {
  const fromEnv = process.env.ZEPHYR_CHUNK_DIR
  return fromEnv ? StoragePath.resolve(fromEnv) : path.join(userRoot(), "chunks")
}

const unsafe = (dir: string, problem: string): ZephyrInfraError =>
  new ZephyrInfraError({
    reason: "unsafe-chunk-dir",
    message: `Refusing to use the chunk directory ${dir}: ${problem}. Remove it (or fix its owner and mode: chmod 700), or pass --chunk-dir (chunkDir) to use another directory.`,
    retryable: false
  })

/**
 * Checks that `dir` is a directory of this user that nobody else may write to: not a
 * symlink (lstat), owned by the current uid, not group- or world-writable. Skipped where
 * there are no uids (Windows).
 */
export const checkPrivate = (dir: string): void => {
  const uid = process.getuid?.()
  if (uid === undefined) return
  const st = fs.lstatSync(dir)
  if (st.isSymbolicLink()) throw unsafe(dir, "it is a symbolic link")
  if (!st.isDirectory()) throw unsafe(dir, "it is not a directory")
  if (st.uid !== uid) throw unsafe(dir, `it is owned by uid ${st.uid}, not by you (uid ${uid})`)
  if ((st.mode & 0o022) !== 0) throw unsafe(dir, `it is writable by ${(st.mode & 0o002) !== 0 ? "everyone" : "its group"} (mode ${(st.mode & 0o777).toString(8)})`)
}

/** Creates `dir` with mode 0700 unless it exists, then checks that it is private. */
const ensurePrivate = (dir: string): void => {
  try {
    fs.mkdirSync(dir, { mode: 0o700 })
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
  }
  checkPrivate(dir)
}

const storageError = (dir: string, e: unknown): ZephyrInfraError =>
  e instanceof ZephyrInfraError ? e : new ZephyrInfraError({
    reason: "storage",
    message: `Could not create the chunk directory ${dir}: ${(e as Error)?.message ?? String(e)}. Pass --chunk-dir (chunkDir) to use another directory.`,
    retryable: false
  })

let privateRoot: string | undefined

/**
 * `<tmp>/zephyr-<uid>`, created 0700 and checked once per process: the local scratch space
 * of tasks whose execution lives in object storage (downloaded inputs, spills).
 */
export const privateUserRoot = (): string => {
  if (privateRoot === undefined) {
    const root = userRoot()
    ensurePrivate(root)
    privateRoot = root
  }
  return privateRoot
}

/**
 * Makes the chunk directory ready and returns it. The per-user default (and its parent)
 * is created 0700 and checked; a directory the user named is created (0700) if missing and
 * used as it is: sharing one on purpose (a cluster's network file system) is theirs to decide.
 */
export const ensure = (dir: string): string => {
  try {
    if (dir === path.join(userRoot(), "chunks")) {
      ensurePrivate(userRoot())
      ensurePrivate(dir)
    } else {
      Directory.make(dir, { mode: 0o700 })
    }
    return dir
  } catch (e) {
    throw storageError(dir, e)
  }
}
