import { spawnSync } from "node:child_process"
import * as os from "node:os"
import { beforeAll, describe, expect, it } from "vitest"
import * as ExecutionDir from "../../../runtime/storage/ExecutionDir.ts"
import * as ExecutionStorage from "../../../runtime/storage/ExecutionStorage.ts"
import * as ObjectStore from "../../../runtime/storage/ObjectStore.ts"
import * as S3Options from "../../../runtime/storage/S3Options.ts"
import { credentials, useS3Server } from "../../S3Server.ts"

// An execution's directory in object storage (--chunk-dir s3://bucket/prefix), against a
// real S3-compatible server: the marker, the lock, stage records, removal.
const server = useS3Server(["chunks"])

beforeAll(() => {
  Object.assign(process.env, credentials)
  ObjectStore.configure(S3Options.resolve({ endpoint: server().endpoint }, {}))
})

const keys = async (prefix: string) => {
  const out: Array<string> = []
  for await (const o of (await ObjectStore.s3()).list("chunks", prefix)) out.push(o.key)
  return out
}

let ids = 0
const newId = () => `exec-${++ids}`

describe("an execution in object storage", () => {
  it("is created with its marker, resumed by id, and never adopted without the marker", async () => {
    const opened = await ExecutionStorage.open("s3://chunks/runs", { executionId: undefined, resume: false }, newId)
    expect(opened).toEqual({ executionId: "exec-1", dir: "s3://chunks/runs/exec-1", resumed: false })
    expect(await keys("runs/exec-1/")).toEqual(["runs/exec-1/zephyr-execution.json"])
    expect(await ExecutionStorage.open("s3://chunks/runs", { executionId: "exec-1", resume: true }, newId)).toEqual({ ...opened, resumed: true })
    expect(await ExecutionStorage.open("s3://chunks/runs", { executionId: "exec-1", resume: false }, newId)).toEqual({ ...opened, resumed: true })
    await expect(ExecutionStorage.open("s3://chunks/runs", { executionId: "missing", resume: true }, newId)).rejects.toMatchObject({ _tag: "ZephyrPlanError", reason: "unknown-execution", message: expect.stringContaining("There is no execution \"missing\" to resume") })
    await (await ObjectStore.s3()).writeFile("s3://chunks/runs/foreign/data.bin", Buffer.from("not ours"))
    await expect(ExecutionStorage.open("s3://chunks/runs", { executionId: "foreign", resume: false }, newId)).rejects.toMatchObject({ reason: "unknown-execution", message: expect.stringContaining("s3://chunks/runs/foreign holds objects but is not a Zephyr execution") })
    // A new id never lands on an occupied prefix.
    let n = 0
    const taken = await ExecutionStorage.open("s3://chunks/runs", { executionId: undefined, resume: false }, () => (n++ === 0 ? "foreign" : "fresh"))
    expect(taken.executionId).toBe("fresh")
    expect(await ExecutionStorage.removeIfMarked("s3://chunks/runs/foreign", "foreign")).toBe(false)
    expect(await keys("runs/foreign/")).toEqual(["runs/foreign/data.bin"])
  })

  it("is locked by one driver at a time; a lock of a dead process on this host is taken over", async () => {
    const { dir } = await ExecutionStorage.open("s3://chunks/locks", { executionId: "held", resume: false }, newId)
    const lock = await ExecutionStorage.lock(dir)
    expect(lock.tookOverFrom).toBeUndefined()
    await expect(ExecutionStorage.lock(dir)).rejects.toMatchObject({ _tag: "ZephyrInfraError", reason: "execution-locked", message: expect.stringContaining(`in use by another driver: pid ${process.pid} on this host`) })
    await lock.release()
    expect(await keys("locks/held/")).toEqual(["locks/held/zephyr-execution.json"])
    // A driver killed with SIGKILL leaves its lock: a pid that no longer runs, on this host.
    const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid!
    const stale = { pid: dead, host: os.hostname(), started: new Date().toISOString(), token: "old" }
    await (await ObjectStore.s3()).writeFile(ExecutionDir.lockFile(dir), Buffer.from(JSON.stringify(stale)))
    const taken = await ExecutionStorage.lock(dir)
    expect(taken.tookOverFrom).toMatchObject({ pid: dead })
    await taken.release()
    // Another host's lock is respected: its processes cannot be checked from here.
    await (await ObjectStore.s3()).writeFile(ExecutionDir.lockFile(dir), Buffer.from(JSON.stringify({ ...stale, host: "elsewhere" })))
    await expect(ExecutionStorage.lock(dir)).rejects.toMatchObject({ reason: "execution-locked", message: expect.stringContaining(`on host elsewhere`) })
  })

  it("keeps stage records valid while the chunks they name exist, and removes everything on success", async () => {
    const { dir, executionId } = await ExecutionStorage.open("s3://chunks/records", { executionId: "rec", resume: false }, newId)
    const store = await ObjectStore.s3()
    const chunk = `${dir}/stage-0/shard-0/a0.blk`
    await store.writeFile(chunk, Buffer.from("x"))
    const origin = { fingerprint: "f".repeat(64), reads: {}, upstream: {}, entry: null, inputs: null }
    const outputs = [{ kind: "chunks" as const, refs: [{ kind: "file" as const, path: chunk, count: 1, skip: 0, take: 1 }] }]
    expect(await ExecutionStorage.checkStage(dir, 0, origin)).toEqual({ kind: "absent" })
    const id = await ExecutionStorage.recordStage(dir, 0, origin, outputs)
    expect(await ExecutionStorage.checkStage(dir, 0, origin)).toEqual({ kind: "valid", outputs, id })
    expect(await ExecutionStorage.checkStage(dir, 0, { ...origin, fingerprint: "0".repeat(64) })).toMatchObject({ kind: "stale", reason: "its code changed" })
    await store.remove(chunk)
    expect(await ExecutionStorage.checkStage(dir, 0, origin)).toEqual({ kind: "stale", reason: `its chunk file ${chunk} is missing` })
    expect(await ExecutionStorage.removeIfMarked(dir, executionId)).toBe(true)
    expect(await keys("records/")).toEqual([])
  })

  it("fails clearly when the chunk directory's bucket does not exist", async () => {
    await expect(ExecutionStorage.prepare("s3://no-such-bucket/chunks")).rejects.toMatchObject({
      _tag: "ZephyrInfraError",
      reason: "storage",
      message: expect.stringMatching(/^Cannot use the chunk directory s3:\/\/no-such-bucket\/chunks \(--chunk-dir \/ option chunkDir\): The bucket "no-such-bucket" does not exist/)
    })
    await expect(ExecutionStorage.prepare("s3://chunks/ok")).resolves.toBe("s3://chunks/ok")
  })
})
