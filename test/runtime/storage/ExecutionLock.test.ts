import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as ExecutionLock from "../../../runtime/storage/ExecutionLock.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tempDir = useTempDirs("zephyr-lock-")
const children: Array<ReturnType<typeof spawn>> = []
afterEach(() => { for (const c of children.splice(0)) c.kill("SIGKILL") })

/** The pid of a process that has exited (and been reaped). */
const deadPid = (): number => spawnSync(process.execPath, ["-e", ""]).pid!

const writeLock = (dir: string, holder: Partial<ExecutionLock.Holder>) =>
  fs.writeFileSync(path.join(dir, "lock"), JSON.stringify({ host: os.hostname(), started: "2020-01-01T00:00:00.000Z", token: "t", ...holder }))

describe("ExecutionLock", () => {
  it("is exclusive: a second holder fails naming the first one's pid; after release it can lock", () => {
    const dir = tempDir()
    const first = ExecutionLock.acquire(dir)
    expect(ExecutionLock.readHolder(path.join(dir, "lock"))).toMatchObject({ pid: process.pid, host: os.hostname() })
    expect(() => ExecutionLock.acquire(dir)).toThrow(expect.objectContaining({
      _tag: "ZephyrInfraError", reason: "execution-locked", message: expect.stringContaining(`in use by another driver: pid ${process.pid} on this host`)
    }))
    first.release()
    expect(fs.existsSync(path.join(dir, "lock"))).toBe(false)
    ExecutionLock.acquire(dir).release()
  })

  it("respects the lock of another live process", () => {
    const dir = tempDir()
    const other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" })
    children.push(other)
    writeLock(dir, { pid: other.pid! })
    expect(() => ExecutionLock.acquire(dir)).toThrow(`pid ${other.pid} on this host`)
    expect(ExecutionLock.readHolder(path.join(dir, "lock"))?.pid).toBe(other.pid)
  })

  it("respects a lock of another host, whose processes it cannot check", () => {
    const dir = tempDir()
    writeLock(dir, { pid: deadPid(), host: "elsewhere.example" })
    expect(() => ExecutionLock.acquire(dir)).toThrow(/host elsewhere\.example .*remove .*lock/)
  })

  it("takes over a stale lock: its pid is dead on this host", () => {
    const dir = tempDir()
    const dead = deadPid()
    writeLock(dir, { pid: dead })
    const lock = ExecutionLock.acquire(dir)
    expect(ExecutionLock.readHolder(path.join(dir, "lock"))).toMatchObject({ pid: process.pid, token: lock.holder.token })
    expect(lock.tookOverFrom?.pid).toBe(dead)
    expect(fs.readdirSync(dir)).toEqual(["lock"]) // the stale one set aside is gone
  })

  it("release leaves a lock that is no longer its own", () => {
    const dir = tempDir()
    const lock = ExecutionLock.acquire(dir)
    writeLock(dir, { pid: process.pid, token: "someone else" })
    lock.release()
    expect(ExecutionLock.readHolder(path.join(dir, "lock"))?.token).toBe("someone else")
  })
})
