import { type ChildProcess, execFileSync } from "node:child_process"
import * as net from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"
import * as WorkerProcesses from "../../../runtime/launcher/WorkerProcesses.ts"
import * as RawClient from "../../rpc/RawClient.ts"
import * as ZephyrCommand from "../../ZephyrCommand.ts"

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as net.AddressInfo).port
    s.close(() => resolve(port))
  })
})

/** Resolves once something accepts connections on the port (the coordinator is up). */
const listening = async (port: number) => {
  for (let i = 0; i < 600; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => { socket.destroy(); resolve(true) })
      socket.on("error", () => resolve(false))
    })
    if (up) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`nothing listens on port ${port}`)
}

const children: Array<ChildProcess> = []
afterEach(() => { for (const c of children.splice(0)) c.kill("SIGKILL") })

/** A `zephyr` command as a user runs it; its output is kept. */
const zephyr = (args: ReadonlyArray<string>, env: Record<string, string> = {}) => ZephyrCommand.start(args, env, children)

const startWorker = (port: number, token: string, how: "env" | "flag" = "env") =>
  zephyr(["worker", "--coordinator", `127.0.0.1:${port}`, ...(how === "flag" ? ["--token", token] : [])], how === "env" ? { ZEPHYR_TOKEN: token } : {})

const runArgs = (port: number) => ["run", "test/compiler/fixtures/modules/args.ts", "--export", "numbers", "--arg", "shards=2", "--backend", "external", "--listen", `127.0.0.1:${port}`, "--print-results", "--no-progress"]
const expected = [{ k: 0, n: 3 }, { k: 1, n: 3 }]
const results = (stdout: string) => stdout.trim().split("\n").map((l) => JSON.parse(l) as { k: number; n: number }).sort((a, b) => a.k - b.k)

describe("external workers (backend external)", () => {
  it("runs a pipeline on workers started by hand with `zephyr worker --coordinator HOST:PORT --token T`", async () => {
    const port = await freePort()
    const run = Zephyr.runModule<{ k: number; n: number }>("test/compiler/fixtures/modules/args.ts", {
      export: "numbers", args: { shards: "2" }, backend: "external", listen: `127.0.0.1:${port}`, token: "secret"
    })
    await listening(port)
    // The intruder first, while the run waits for workers (it cannot finish without one).
    const intruder = startWorker(port, "wrong", "flag")
    expect(await intruder.exit).not.toBe(0)
    const worker = startWorker(port, "secret", "flag")
    try {
      expect(intruder.stderr()).toContain("wrong token")
      const result = await run
      expect(result.results.sort((a, b) => a.k - b.k)).toEqual(expected)
      expect(await worker.exit).toBe(0) // told to shut down when the last stage had nothing left
    } catch (e) {
      process.stderr.write(`worker stderr:\n${worker.stderr()}\nintruder stderr:\n${intruder.stderr()}\n`)
      throw e
    }
  }, 120_000)

  it("a worker started as a pod is (heap sizes in NODE_OPTIONS, growth in the environment) runs its tasks with that heap and otherwise V8's default flags", async () => {
    const budget = 256 * 2 ** 20
    const port = await freePort()
    const run = Zephyr.runModule<{ flagHash: number; heapLimitMB: number }>("test/runtime/launcher/fixtures/heap.ts", {
      backend: "external", listen: `127.0.0.1:${port}`, token: "secret"
    })
    await listening(port)
    const worker = zephyr(["worker", "--coordinator", `127.0.0.1:${port}`], {
      ZEPHYR_TOKEN: "secret", NODE_OPTIONS: WorkerProcesses.heapFlags(budget).join(" "), ...WorkerProcesses.heapEnvironment(budget)
    })
    try {
      const result = await run
      const withGrowthOnly = Number(execFileSync(process.execPath, ["--heap-growing-percent=300", "-p", "require('v8').cachedDataVersionTag()"], { encoding: "utf8" }))
      expect(result.results.map((r) => r.flagHash)).toEqual([withGrowthOnly, withGrowthOnly])
      for (const r of result.results) expect(r.heapLimitMB).toBeGreaterThanOrEqual(WorkerProcesses.heapMegabytes(budget))
      for (const r of result.results) expect(r.heapLimitMB).toBeLessThan(WorkerProcesses.heapMegabytes(budget) + 100)
    } catch (e) {
      process.stderr.write(`worker stderr:\n${worker.stderr()}\n`)
      throw e
    }
  }, 120_000)

  it("never writes the token in a log line or a message: driver, worker, intruder and probes, at debug level", async () => {
    const token = "tok-5e3c1d0a9f7b4c2e8d6a"
    const port = await freePort()
    const driver = zephyr(runArgs(port), { ZEPHYR_TOKEN: token, ZEPHYR_LOG_LEVEL: "debug" })
    await listening(port)
    const intruder = zephyr(["worker", "--coordinator", `127.0.0.1:${port}`], { ZEPHYR_TOKEN: `${token}-not`, ZEPHYR_LOG_LEVEL: "debug" })
    expect(await intruder.exit).not.toBe(0)
    const probe = await RawClient.connect(port)
    probe.send(RawClient.request("Status", {}))
    await probe.closed
    const worker = zephyr(["worker", "--coordinator", `127.0.0.1:${port}`], { ZEPHYR_TOKEN: token, ZEPHYR_LOG_LEVEL: "debug" })
    const code = await driver.exit
    const everything = [driver.stdout(), driver.stderr(), worker.stderr(), intruder.stderr(), probe.received().toString("latin1")].join("\n")
    try {
      expect(code).toBe(0)
      expect(results(driver.stdout())).toEqual(expected)
      expect(intruder.stderr()).toContain("wrong token")
      expect(driver.stderr()).toContain("its Hello was refused (unauthenticated)")
      expect(everything).not.toContain(token)
    } catch (e) {
      process.stderr.write(`driver stderr:\n${driver.stderr()}\nworker stderr:\n${worker.stderr()}\n`)
      throw e
    }
  }, 120_000)

  it("on loopback without a token generates one, prints it once on stderr, and workers join with it", async () => {
    const port = await freePort()
    const driver = zephyr(runArgs(port))
    await listening(port)
    let printed: string | undefined
    for (let i = 0; i < 100 && printed === undefined; i++) {
      printed = /token \(generated, printed once\): (\S+)/.exec(driver.stderr())?.[1]
      if (printed === undefined) await new Promise((r) => setTimeout(r, 100))
    }
    expect(printed).toBeDefined()
    const worker = startWorker(port, printed!)
    expect(await driver.exit).toBe(0)
    expect(results(driver.stdout())).toEqual(expected)
    expect(driver.stderr().split(printed!).length - 1).toBe(1)
    expect(worker.stderr()).not.toContain(printed!)
  }, 120_000)

  it("refuses to listen off loopback without a token", async () => {
    const { ZEPHYR_TOKEN: saved } = process.env
    delete process.env.ZEPHYR_TOKEN
    try {
      const failure = await Zephyr.runModule("test/compiler/fixtures/modules/args.ts", { export: "numbers", backend: "external", listen: "0.0.0.0:0" }).then(() => undefined, (e: unknown) => e)
      expect(failure).toMatchObject({ _tag: "ZephyrPlanError", reason: "invalid-option" })
      expect((failure as Error).message).toContain("needs a token")
    } finally {
      if (saved !== undefined) process.env.ZEPHYR_TOKEN = saved
    }
  }, 60_000)
})
