import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"
import * as RemoteWorker from "../../../runtime/worker/RemoteWorker.ts"
import { useTempDirs } from "../../TempDirs.ts"
import { waitFor } from "../../faults/Processes.ts"
import type { Total } from "../launcher/fixtures/slow-shards.ts"
import * as TcpProxy from "./TcpProxy.ts"
import * as ZephyrCommand from "../../ZephyrCommand.ts"

// A worker started by hand (`zephyr worker`) reaches its coordinator through a TCP proxy the
// test cuts in the middle of the run and restores a few seconds later: the worker dials
// again, registers under the same id, and the run completes with the output of a
// fault-free run.
const module = "test/runtime/launcher/fixtures/slow-shards.ts"
const TOKEN = "reconnect-token-71c2"
const tempDir = useTempDirs("zephyr-reconnect-")

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as net.AddressInfo).port
    s.close(() => resolve(port))
  })
})

const children: Array<ChildProcess> = []
const proxies: Array<TcpProxy.TcpProxy> = []
afterEach(async () => {
  for (const c of children.splice(0)) c.kill("SIGKILL")
  for (const p of proxies.splice(0)) await p.close()
})

const zephyr = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => ZephyrCommand.start(args, env, children)

const byKey = (results: ReadonlyArray<Total>) => [...results].sort((a, b) => a.key - b.key)

describe("a remote worker whose connection breaks", () => {
  it("dials again through a cut and restored link, re-registers under its id, and the run's output equals a fault-free run", async () => {
    const dir = tempDir()
    const marks = path.join(dir, "marks")
    fs.mkdirSync(marks)
    const faultFree = await Zephyr.runModule<Total>(module, { backend: "in-process", workers: 1, args: { dir: path.join(dir, "fault-free"), shards: "12", sleepMs: "0" } })
    const port = await freePort()
    const driver = zephyr([
      "run", module, "--arg", `dir=${marks}`, "--arg", "shards=12", "--arg", "sleepMs=400",
      "--backend", "external", "--listen", `127.0.0.1:${port}`, "--token", TOKEN, "--chunk-dir", path.join(dir, "chunks"),
      "--print-results", "--no-progress", "--no-check"
    ])
    const proxy = await TcpProxy.start({ host: "127.0.0.1", port })
    proxies.push(proxy)
    // The only worker: the run cannot complete unless it comes back.
    const worker = zephyr(["worker", "--coordinator", `127.0.0.1:${proxy.port}`, "--worker-id", "w-cut"], { ZEPHYR_TOKEN: TOKEN })
    try {
      await waitFor(() => fs.readdirSync(marks).length > 0 || worker.child.exitCode !== null, "the worker to start a task", 120_000)
      // Mid-run (12 tasks of 400 ms): the link goes down for 3 s, then comes back.
      await proxy.cut()
      await new Promise((r) => setTimeout(r, 3_000))
      await proxy.restore()
      expect(await worker.exit).toBe(0)
      expect(await driver.exit).toBe(0)
      expect(byKey(driver.stdout().trim().split("\n").map((l) => JSON.parse(l) as Total))).toEqual(byKey(faultFree.results))
      expect(proxy.accepted()).toBeGreaterThanOrEqual(2) // it dialled again
      expect(worker.stderr()).toMatch(/worker w-cut lost its connection to the coordinator .*dialling again for up to 60 s/)
      // The coordinator took it as the same process again, and re-queued what it held.
      expect(driver.stderr()).toMatch(/worker w-cut reconnected/)
      expect(driver.stderr()).not.toMatch(/replaced by a new process/)
    } catch (e) {
      process.stderr.write(`driver stderr:\n${driver.stderr()}\nworker stderr:\n${worker.stderr()}\n`)
      throw e
    }
  }, 180_000)
})

describe("a remote worker's plan", () => {
  it("reads only the columns the job names, with the fingerprint of the plan its module builds", async () => {
    const module = { path: path.resolve("test/cli/fixtures/read-columns.ts"), args: { input: "in" } }
    const spec = { executionId: "x", module, fingerprint: "", executionDir: tempDir(), heartbeatIntervalMs: 1000, memoryBudgetBytes: 2 ** 26, sharedNames: [] }
    const plain = await Effect.runPromise(RemoteWorker.loadFromSpec(spec))
    const load = plain.executable.plan.stages[0]!.ops[0]!
    expect(load).toMatchObject({ kind: "loadJsonl", columns: null })
    const projected = await Effect.runPromise(RemoteWorker.loadFromSpec({ ...spec, readColumns: { [load.id]: ["key"] } }))
    expect(projected.executable.plan.stages[0]!.ops[0]).toMatchObject({ kind: "loadJsonl", columns: ["key"], columnsInferred: true })
    expect(projected.executable.plan.fingerprint).toBe(plain.executable.plan.fingerprint)
  })

  it("adds in place the sums the job names", async () => {
    const module = { path: path.resolve("test/cli/fixtures/combine-sums.ts"), args: {} }
    const spec = { executionId: "x", module, fingerprint: "", executionDir: tempDir(), heartbeatIntervalMs: 1000, memoryBudgetBytes: 2 ** 26, sharedNames: [] }
    const plain = await Effect.runPromise(RemoteWorker.loadFromSpec(spec))
    const scatter = plain.executable.plan.stages[0]!.ops.find((op) => op.kind === "groupBy")!
    expect(scatter).not.toHaveProperty("combinerSums")
    const summed = await Effect.runPromise(RemoteWorker.loadFromSpec({ ...spec, combineSums: { [scatter.id]: ["n"] } }))
    expect(summed.executable.plan.stages[0]!.ops.find((op) => op.id === scatter.id)).toMatchObject({ role: "scatter", combinerSums: ["n"] })
    expect(summed.executable.plan.fingerprint).toBe(plain.executable.plan.fingerprint)
  })
})
