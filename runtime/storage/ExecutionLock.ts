import { randomUUID } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import { ZephyrInfraError } from "../../plan/Errors.ts"
import * as ExecutionDir from "./ExecutionDir.ts"

/**
 * The lock of an execution directory: one driver (or `zephyr gc`) at a time. It is a file
 * created with O_EXCL holding the holder's pid and host. A lock whose pid is dead on this
 * host is stale (a driver killed with SIGKILL) and is taken over; a lock of a live process,
 * or of another host (whose processes cannot be checked from here), is respected.
 */
export interface Holder {
  readonly pid: number
  readonly host: string
  readonly started: string
  /** Tells this holder's lock from a later one of the same pid. */
  readonly token: string
}

export interface Lock {
  readonly file: string
  readonly holder: Holder
  /** The dead holder whose stale lock this one replaced. */
  readonly tookOverFrom: Holder | undefined
  /** Removes the lock if it is still this holder's. */
  readonly release: () => void
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM" // alive, someone else's
  }
}

const parse = (text: string): Holder | undefined => {
  try {
    const h = JSON.parse(text) as Holder
    return h && Number.isInteger(h.pid) && typeof h.host === "string" ? h : undefined
  } catch {
    return undefined
  }
}

export const readHolder = (file: string): Holder | undefined => {
  try {
    return parse(fs.readFileSync(file, "utf8"))
  } catch {
    return undefined
  }
}

/** A holder that can no longer be using the directory: its process is dead, on this host. */
export const isStale = (h: Holder): boolean => h.host === os.hostname() && !isAlive(h.pid)

/** How long a lock file may stay empty or unreadable (its writer died between open and write) before it counts as stale. */
const UNREADABLE_GRACE_MS = 10_000

/** The error for an execution locked by another driver (`h`, when its lock file could be read). */
export const lockedError = (dir: string, file: string, h: Holder | undefined): ZephyrInfraError =>
  new ZephyrInfraError({
    reason: "execution-locked",
    message: h
      ? `The execution in ${dir} is in use by another driver: pid ${h.pid} on ${h.host === os.hostname() ? "this host" : `host ${h.host}`} (since ${h.started}). Wait for it to finish or stop it${h.host === os.hostname() ? "" : `; if that process is gone, remove ${file}`}.`
      : `The execution in ${dir} is being locked by another driver right now (${file}). Try again in a moment.`,
    retryable: false
  })

/**
 * Takes a stale lock out of the way: renamed aside (one taker wins the rename), then
 * checked to be the stale one read before; a fresh lock renamed by mistake is put back.
 */
const takeOver = (file: string, staleText: string): void => {
  const aside = `${file}.stale-${randomUUID().slice(0, 8)}`
  try {
    fs.renameSync(file, aside)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return // someone else took it over
    throw e
  }
  if (fs.readFileSync(aside, "utf8") !== staleText) {
    try {
      fs.linkSync(aside, file)
    } catch { /* a third driver locked it meanwhile; its lock stands */ }
  }
  fs.rmSync(aside, { force: true })
}

/** Locks the execution directory `dir` for this process, or fails naming the live holder. */
export const acquire = (dir: string): Lock => {
  const file = ExecutionDir.lockFile(dir)
  const holder: Holder = { pid: process.pid, host: os.hostname(), started: new Date().toISOString(), token: randomUUID() }
  const text = JSON.stringify(holder) + "\n"
  let tookOverFrom: Holder | undefined
  for (let tries = 0; tries < 5; tries++) {
    let fd: number
    try {
      fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
      let current: string
      try {
        current = fs.readFileSync(file, "utf8")
      } catch {
        continue // released meanwhile
      }
      const other = parse(current)
      const abandoned = other === undefined && Date.now() - mtimeMs(file) > UNREADABLE_GRACE_MS
      if ((other && isStale(other)) || abandoned) {
        tookOverFrom = other
        takeOver(file, current)
        continue
      }
      throw lockedError(dir, file, other)
    }
    try {
      fs.writeSync(fd, text)
    } finally {
      fs.closeSync(fd)
    }
    return {
      file,
      holder,
      tookOverFrom,
      release: () => {
        if (readHolder(file)?.token === holder.token) fs.rmSync(file, { force: true })
      }
    }
  }
  throw lockedError(dir, file, readHolder(file))
}

const mtimeMs = (file: string): number => {
  try {
    return fs.statSync(file).mtimeMs
  } catch {
    return Date.now()
  }
}
