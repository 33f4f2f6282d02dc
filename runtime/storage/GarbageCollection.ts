import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ZephyrInfraError } from "../../plan/Errors.ts"
import * as ChunkDir from "./ChunkDir.ts"
import * as ExecutionDir from "./ExecutionDir.ts"
import * as ExecutionLock from "./ExecutionLock.ts"

/**
 * `zephyr gc`: removes the directories that failed or interrupted executions keep for
 * `--resume`, once they are old. Only a directory carrying Zephyr's marker is removed, never
 * one a live driver holds (it is locked for the removal, so a driver cannot resume it
 * meanwhile), and never one used more recently than the age limit (a driver touches the
 * marker whenever it starts or resumes the execution).
 */
export interface Options {
  readonly olderThanMs: number
  readonly dryRun: boolean
  readonly now?: number | undefined
}

export interface Entry {
  readonly name: string
  readonly outcome: "removed" | "would-remove" | "kept"
  /** Why it was kept, or how old it was. */
  readonly detail: string
}

export const formatAge = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  const d = Math.floor(s / 86_400), h = Math.floor((s % 86_400) / 3_600), m = Math.floor((s % 3_600) / 60)
  return d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m` : `${s}s`
}

const holderText = (h: ExecutionLock.Holder): string => `pid ${h.pid} on ${h.host === os.hostname() ? "this host" : `host ${h.host}`}`

const examine = (chunkDir: string, entry: fs.Dirent, options: Options, now: number): Entry => {
  const name = entry.name
  const kept = (detail: string): Entry => ({ name, outcome: "kept", detail })
  if (!entry.isDirectory()) return kept("not a directory")
  if (!ExecutionDir.isValidId(name)) return kept("not an execution id")
  const dir = path.join(chunkDir, name)
  if (!ExecutionDir.isMarked(dir, name)) return kept(`no ${path.basename(ExecutionDir.markerFile(dir))} marker: not created by Zephyr`)
  const age = now - fs.statSync(ExecutionDir.markerFile(dir)).mtimeMs
  if (age < options.olderThanMs) return kept(`last used ${formatAge(age)} ago, younger than ${formatAge(options.olderThanMs)}`)
  const holder = ExecutionLock.readHolder(ExecutionDir.lockFile(dir))
  if (holder && !ExecutionLock.isStale(holder)) return kept(`in use: locked by ${holderText(holder)}`)
  if (options.dryRun) return { name, outcome: "would-remove", detail: `last used ${formatAge(age)} ago` }
  let lock: ExecutionLock.Lock
  try {
    lock = ExecutionLock.acquire(dir)
  } catch (e) {
    if (e instanceof ZephyrInfraError && e.reason === "execution-locked") return kept("in use: a driver locked it just now")
    throw e
  }
  // Under the lock: still the same old execution?
  if (!ExecutionDir.isMarked(dir, name) || now - fs.statSync(ExecutionDir.markerFile(dir)).mtimeMs < options.olderThanMs) {
    lock.release()
    return kept("in use: a driver used it just now")
  }
  fs.rmSync(dir, { recursive: true, force: true })
  return { name, outcome: "removed", detail: `last used ${formatAge(age)} ago` }
}

/** Examines every entry of `chunkDir` and removes the old, unlocked, marked executions (unless `dryRun`). */
export const collect = (chunkDir: string, options: Options): Array<Entry> => {
  if (!fs.existsSync(chunkDir)) return []
  if (path.resolve(chunkDir) === path.join(ChunkDir.userRoot(), "chunks")) ChunkDir.checkPrivate(chunkDir)
  const now = options.now ?? Date.now()
  return fs.readdirSync(chunkDir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((entry) => {
      try {
        return examine(chunkDir, entry, options, now)
      } catch (e) {
        return { name: entry.name, outcome: "kept" as const, detail: `could not be examined or removed: ${(e as Error)?.message ?? String(e)}` }
      }
    })
}
