/**
 * Start-up: `zephyr --version`, `zephyr compile examples/wordcount.ts --explain`, `zephyr
 * run examples/wordcount.ts --workers 2` on the bundled data, a no-op `zephyr run` (one
 * task), and how long a `zephyr worker` takes from spawn to its Register reaching a
 * coordinator. The baseline is a bare Node process.
 * Targets: 0.3 s, 0.8 s, 2 s, and a worker registered ≤ 0.6 s after spawn.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Answers from "../Answers.ts"
import * as Contenders from "../Contenders.ts"
import * as Processes from "../Processes.ts"
import * as Workload from "../Workload.ts"

export const name = "start-up"

const VERSION = "zephyr --version"
const COMPILE = "zephyr compile --explain"
const WORDCOUNT = "zephyr run wordcount, bundled data"
const NOOP = "zephyr run no-op, 1 task"
const REGISTER = "zephyr worker, spawn to registered"

/**
 * A coordinator of the external backend (a no-op run listening on an ephemeral port, with
 * debug logs, which include "worker ... registered"); then a worker is spawned against it
 * and timed until that line arrives on the driver's stderr.
 */
const workerRegistration = (repo: string): Promise<number> =>
  new Promise((resolve, reject) => {
    // The external backend needs an explicit chunk directory (workers elsewhere must reach it).
    const chunks = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-bench-chunks-"))
    const driver = spawn(process.execPath, ["bin/zephyr.js", "run", "bench/pipelines/noop.ts", "--backend", "external", "--listen", "127.0.0.1:0", "--chunk-dir", chunks, "--no-progress"], {
      cwd: repo, env: { ...process.env, ZEPHYR_LOG_LEVEL: "debug", ZEPHYR_TOKEN: "bench" }, stdio: ["ignore", "ignore", "pipe"]
    })
    let worker: ReturnType<typeof spawn> | undefined
    let spawnedAt = 0
    let log = ""
    let settled = false
    const finish = (error: Error | undefined, seconds = 0) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      worker?.kill()
      driver.kill()
      driver.once("close", () => fs.rmSync(chunks, { recursive: true, force: true }))
      if (error) reject(error)
      else resolve(seconds)
    }
    const timer = setTimeout(() => finish(new Error(`no worker registered within 120 s; driver stderr:\n${log.slice(-3000)}`)), 120_000)
    driver.on("close", (code) => finish(new Error(`the coordinator exited (${code}) before a worker registered:\n${log.slice(-3000)}`)))
    driver.stderr.on("data", (b: Buffer) => {
      const now = performance.now()
      log += b.toString("utf8")
      if (!worker) {
        const m = /--coordinator (\S+)/.exec(log)
        if (!m) return
        spawnedAt = performance.now()
        worker = spawn(process.execPath, ["bin/zephyr.js", "worker", "--coordinator", m[1]!], { cwd: repo, env: { ...process.env, ZEPHYR_TOKEN: "bench" }, stdio: ["ignore", "ignore", "ignore"] })
      } else if (/worker \S+ registered/.test(log)) {
        finish(undefined, (now - spawnedAt) / 1000)
      }
    })
  })

export const make: Workload.Make = async (context) => {
  const command = (label: string, args: ReadonlyArray<string>, zephyr = true): Workload.Contender => ({
    name: label,
    zephyr,
    run: async () => ({ seconds: (await Processes.node(args, { cwd: context.repo })).seconds })
  })
  return {
    name,
    title: "start-up",
    contenders: [
      command(VERSION, ["bin/zephyr.js", "--version"]),
      command(COMPILE, ["bin/zephyr.js", "compile", "examples/wordcount.ts", "--explain"]),
      {
        name: WORDCOUNT,
        zephyr: true,
        run: async () => {
          const out = Contenders.outputDir(context, name, WORDCOUNT)
          const finished = await Processes.node(Contenders.zephyrArgv("examples/wordcount.ts", 2, { out }), { cwd: context.repo })
          const answer = Answers.ofCounts(out, "word")
          return { seconds: finished.seconds, detail: { words: answer.total, distinct: answer.records } }
        }
      },
      command(NOOP, Contenders.zephyrArgv("bench/pipelines/noop.ts", 2, { n: "1" })),
      { name: REGISTER, zephyr: true, run: async () => ({ seconds: await workerRegistration(context.repo) }) },
      command("node, empty script", ["-e", ""], false)
    ],
    targets: (results) => [
      { name: VERSION, value: Workload.seconds(results, VERSION), unit: "s", limit: 0.3, atMost: true },
      { name: COMPILE, value: Workload.seconds(results, COMPILE), unit: "s", limit: 0.8, atMost: true },
      { name: "worker registered after spawn", value: Workload.seconds(results, REGISTER), unit: "s", limit: 0.6, atMost: true },
      { name: "zephyr run examples/wordcount.ts --workers 2", value: Workload.seconds(results, WORDCOUNT), unit: "s", limit: 2, atMost: true }
    ]
  }
}
