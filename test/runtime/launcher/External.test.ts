import { spawn } from "node:child_process"
import * as net from "node:net"
import { describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"

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

const startWorker = (port: number, token: string) => {
  const child = spawn(process.execPath, ["bin/zephyr.js", "worker", "--coordinator", `127.0.0.1:${port}`, "--token", token], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr!.on("data", (d) => { stderr += d })
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, exit, stderr: () => stderr }
}

describe("external workers (backend external)", () => {
  it("runs a pipeline on workers started by hand with `zephyr worker --coordinator HOST:PORT --token T`", async () => {
    const port = await freePort()
    const run = Zephyr.runModule<{ k: number; n: number }>("test/compiler/fixtures/modules/args.ts", {
      export: "numbers", args: { shards: "2" }, backend: "external", listen: `127.0.0.1:${port}`, token: "secret"
    })
    await listening(port)
    // The intruder first, while the run waits for workers (it cannot finish without one).
    const intruder = startWorker(port, "wrong")
    expect(await intruder.exit).not.toBe(0)
    const worker = startWorker(port, "secret")
    try {
      expect(intruder.stderr()).toContain("wrong token")
      const result = await run
      expect(result.results.sort((a, b) => a.k - b.k)).toEqual([{ k: 0, n: 3 }, { k: 1, n: 3 }])
      expect(await worker.exit).toBe(0) // told to shut down when the last stage had nothing left
    } catch (e) {
      process.stderr.write(`worker stderr:\n${worker.stderr()}\nintruder stderr:\n${intruder.stderr()}\n`)
      throw e
    } finally {
      worker.child.kill("SIGKILL")
      intruder.child.kill("SIGKILL")
    }
  }, 120_000)
})
