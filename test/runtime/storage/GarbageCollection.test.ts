import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import * as ExecutionDir from "../../../runtime/storage/ExecutionDir.ts"
import * as GarbageCollection from "../../../runtime/storage/GarbageCollection.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tempDir = useTempDirs("zephyr-gc-")
const children: Array<ReturnType<typeof spawn>> = []
afterEach(() => { for (const c of children.splice(0)) c.kill("SIGKILL") })

const DAY = 86_400_000

/** An execution directory as a run leaves it, last used `ageMs` ago. */
const execution = (chunks: string, id: string, ageMs: number): string => {
  const { dir } = ExecutionDir.open(chunks, { executionId: id, resume: false }, () => id)
  fs.mkdirSync(path.join(dir, "stages"))
  fs.writeFileSync(path.join(dir, "stages", "stage-0.json"), "x")
  const when = new Date(Date.now() - ageMs)
  fs.utimesSync(ExecutionDir.markerFile(dir), when, when)
  return dir
}
const lockBy = (dir: string, pid: number) =>
  fs.writeFileSync(ExecutionDir.lockFile(dir), JSON.stringify({ pid, host: os.hostname(), started: "2020-01-01T00:00:00.000Z", token: "t" }))

/** A chunk directory holding one of each kind of entry. */
const fixture = () => {
  const chunks = tempDir()
  execution(chunks, "old", 10 * DAY)
  execution(chunks, "young", 1 * DAY)
  const live = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" })
  children.push(live)
  lockBy(execution(chunks, "old-locked", 10 * DAY), live.pid!)
  lockBy(execution(chunks, "old-stale-lock", 10 * DAY), spawnSync(process.execPath, ["-e", ""]).pid!)
  const unmarked = path.join(chunks, "old-unmarked")
  fs.mkdirSync(unmarked)
  fs.writeFileSync(path.join(unmarked, "data"), "x")
  fs.utimesSync(unmarked, new Date(0), new Date(0))
  fs.writeFileSync(path.join(chunks, "a-file"), "x")
  return { chunks, live }
}

describe("GarbageCollection.collect", () => {
  it("removes old marked executions, and keeps young, locked and unmarked ones", () => {
    const { chunks, live } = fixture()
    const entries = GarbageCollection.collect(chunks, { olderThanMs: 7 * DAY, dryRun: false })
    expect(entries.map((e) => [e.name, e.outcome])).toEqual([
      ["a-file", "kept"],
      ["old", "removed"],
      ["old-locked", "kept"],
      ["old-stale-lock", "removed"],
      ["old-unmarked", "kept"],
      ["young", "kept"]
    ])
    const detail = Object.fromEntries(entries.map((e) => [e.name, e.detail]))
    expect(detail["old"]).toBe("last used 10d 0h ago")
    expect(detail["old-locked"]).toBe(`in use: locked by pid ${live.pid} on this host`)
    expect(detail["old-unmarked"]).toBe("no zephyr-execution.json marker: not created by Zephyr")
    expect(detail["young"]).toMatch(/^last used 1d 0h ago, younger than 7d 0h$/)
    expect(fs.readdirSync(chunks).sort()).toEqual(["a-file", "old-locked", "old-unmarked", "young"])
    expect(fs.readdirSync(path.join(chunks, "old-unmarked"))).toEqual(["data"])
  })

  it("removes nothing on a dry run", () => {
    const { chunks } = fixture()
    const before = fs.readdirSync(chunks).sort()
    const entries = GarbageCollection.collect(chunks, { olderThanMs: 7 * DAY, dryRun: true })
    expect(entries.filter((e) => e.outcome === "would-remove").map((e) => e.name)).toEqual(["old", "old-stale-lock"])
    expect(fs.readdirSync(chunks).sort()).toEqual(before)
  })

  it("takes an age limit, and an absent chunk directory has nothing to collect", () => {
    const { chunks } = fixture()
    const entries = GarbageCollection.collect(chunks, { olderThanMs: 12 * 3_600_000, dryRun: false })
    expect(entries.filter((e) => e.outcome === "removed").map((e) => e.name)).toEqual(["old", "old-stale-lock", "young"])
    expect(GarbageCollection.collect(path.join(chunks, "nothing-here"), { olderThanMs: 0, dryRun: false })).toEqual([])
  })
})
