import { spawn, spawnSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as WorkerProcesses from "../../runtime/launcher/WorkerProcesses.ts"

const root = path.resolve(import.meta.dirname, "../..")
const flagsModule = JSON.stringify(path.join(root, "dist", "runtime-v8-flags.js"))
const MiB = 2 ** 20

/**
 * A process started as a Kubernetes pod starts a worker (its heap flags in NODE_OPTIONS, its
 * growth in the environment) that sets its flags from the environment the way `zephyr` does
 * (the built dist/runtime-v8-flags.js), then runs `script`.
 */
const podProcess = (env: Record<string, string>, script: string) =>
  spawn(process.execPath, ["--input-type=module", "-e", `const flags = await import(${flagsModule}); console.error(JSON.stringify(flags.applyFromEnvironment(process.env))); ${script}`], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: WorkerProcesses.nodeOptionsHeapFlags(256 * MiB).join(" "), ...env }
  })

const fullCollections = (env: Record<string, string>): Promise<{ readonly applied: ReadonlyArray<string>; readonly full: number }> =>
  new Promise((resolve, reject) => {
    const child = podProcess(env, `await import(${JSON.stringify(path.join(root, "test/runtime/launcher/fixtures/heap-growth.mjs"))})`)
    let out = ""
    let err = ""
    child.stdout.on("data", (b) => { out += b })
    child.stderr.on("data", (b) => { err += b })
    child.on("error", reject)
    child.on("close", (code) => code === 0
      ? resolve({ applied: JSON.parse(err.trim().split("\n")[0]!) as ReadonlyArray<string>, full: (JSON.parse(out) as { fullCollections: number }).fullCollections })
      : reject(new Error(`exited with ${code}: ${err}`)))
  })

describe("RuntimeV8Flags: a worker's V8 flags from its environment (a Kubernetes pod's)", () => {
  it("the heap's growth, which NODE_OPTIONS refuses, is set from ZEPHYR_HEAP_GROWING_PERCENT: far fewer full collections", async () => {
    const growth = String(WorkerProcesses.heapGrowingPercent(256 * MiB))
    const [without, withGrowth] = await Promise.all([fullCollections({}), fullCollections({ ZEPHYR_HEAP_GROWING_PERCENT: growth })])
    expect(without.applied).toEqual([])
    expect(withGrowth.applied).toEqual([`--heap-growing-percent=${growth}`])
    expect(without.full).toBeGreaterThanOrEqual(withGrowth.full + 2)
  }, 60_000)

  for (const bad of ["0", "1000", "3.5", "300 --allow-natives-syntax", "-1", "abc"]) {
    it(`refuses ${JSON.stringify(bad)} with a sentence, and sets nothing`, () => {
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", `const flags = await import(${flagsModule}); console.log(JSON.stringify(flags.applyFromEnvironment(process.env)))`], {
        encoding: "utf8",
        env: { ...process.env, ZEPHYR_HEAP_GROWING_PERCENT: bad }
      })
      expect(run.status).toBe(0)
      expect(JSON.parse(run.stdout)).toEqual([])
      expect(run.stderr).toBe(`zephyr: ignoring ZEPHYR_HEAP_GROWING_PERCENT=${JSON.stringify(bad)}: it must be a whole percentage from 1 to 999.\n`)
    })
  }
})
