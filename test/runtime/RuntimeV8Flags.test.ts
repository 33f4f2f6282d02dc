import { spawn, spawnSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as WorkerProcesses from "../../runtime/launcher/WorkerProcesses.ts"

const root = path.resolve(import.meta.dirname, "../..")
const flagsModule = JSON.stringify(path.join(root, "dist", "runtime-v8-flags.js"))
const MiB = 2 ** 20

/**
 * A process started as a Kubernetes pod starts a worker (its heap's sizes in NODE_OPTIONS, its
 * growth in the environment) that sets its growth from the environment the way a worker does
 * (the built dist/runtime-v8-flags.js), then runs `script`.
 */
const podProcess = (env: Record<string, string>, script: string) =>
  spawn(process.execPath, ["--input-type=module", "-e", `const flags = await import(${flagsModule}); console.error(JSON.stringify(flags.applyHeapGrowth(process.env))); ${script}`], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NODE_OPTIONS: WorkerProcesses.heapFlags(256 * MiB).join(" "), ...env }
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

/** What `script` prints, in a process started with `flags` that imported the built dist/runtime-v8-flags.js as `flags`. */
const printed = (nodeFlags: ReadonlyArray<string>, script: string, env: Record<string, string> = {}): unknown => {
  const run = spawnSync(process.execPath, [...nodeFlags, "--input-type=module", "-e", `import * as v8 from "node:v8"; const flags = await import(${flagsModule}); ${script}`], {
    encoding: "utf8",
    env: { ...process.env, ...env }
  })
  if (run.status !== 0) throw new Error(run.stderr)
  return JSON.parse(run.stdout)
}

/** V8's flag hash (with its version): a code cache made under another is rejected. */
const defaultTag = printed([], "console.log(v8.cachedDataVersionTag())")

describe("RuntimeV8Flags: a worker's heap flags, with V8's flag hash left at its default while code compiles", () => {
  const workerFlags = [...WorkerProcesses.heapFlags(64 * MiB), ...WorkerProcesses.compilerFlags(2, 2)]

  it("the heap's sizes on the command line change the flag hash until settled; the heap keeps its size", () => {
    const report = "JSON.stringify({ tag: v8.cachedDataVersionTag(), limitMB: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20) })"
    const unsettled = printed(workerFlags, `console.log(${report})`) as { tag: number; limitMB: number }
    const settled = printed(workerFlags, `flags.settleHeapSizes(); console.log(${report})`) as { tag: number; limitMB: number }
    expect(unsettled.tag).not.toBe(defaultTag)
    expect(settled.tag).toBe(defaultTag)
    // 256 MiB of old generation and a 1 MiB semi-space (the young generation is three of them), as V8 made it.
    expect(settled.limitMB).toBe(unsettled.limitMB)
    expect(settled.limitMB).toBeLessThan(270)
  })

  it("the growth changes the flag hash; a code cache is made as at the start, with it set back", () => {
    const tags = printed(workerFlags, "flags.settleHeapSizes(); flags.applyHeapGrowth(process.env); const during = v8.cachedDataVersionTag(); const atStart = flags.asAtStart(() => v8.cachedDataVersionTag()); console.log(JSON.stringify([during, atStart, v8.cachedDataVersionTag()]))", { ZEPHYR_HEAP_GROWING_PERCENT: "300" }) as Array<number>
    expect(tags[0]).not.toBe(defaultTag)
    expect(tags[1]).toBe(defaultTag)
    expect(tags[2]).toBe(tags[0])
  })

  it("the heap's growth, which NODE_OPTIONS refuses, is set from ZEPHYR_HEAP_GROWING_PERCENT: far fewer full collections", async () => {
    const growth = String(WorkerProcesses.heapGrowingPercent(256 * MiB))
    const [without, withGrowth] = await Promise.all([fullCollections({}), fullCollections({ ZEPHYR_HEAP_GROWING_PERCENT: growth })])
    expect(without.applied).toEqual([])
    expect(withGrowth.applied).toEqual([`--heap-growing-percent=${growth}`])
    expect(without.full).toBeGreaterThanOrEqual(withGrowth.full + 2)
  }, 60_000)

  for (const bad of ["0", "1000", "3.5", "300 --allow-natives-syntax", "-1", "abc"]) {
    it(`refuses ${JSON.stringify(bad)} with a sentence, and sets nothing`, () => {
      const run = spawnSync(process.execPath, ["--input-type=module", "-e", `const flags = await import(${flagsModule}); console.log(JSON.stringify(flags.applyHeapGrowth(process.env)))`], {
        encoding: "utf8",
        env: { ...process.env, ZEPHYR_HEAP_GROWING_PERCENT: bad }
      })
      expect(run.status).toBe(0)
      expect(JSON.parse(run.stdout)).toEqual([])
      expect(run.stderr).toBe(`zephyr: ignoring ZEPHYR_HEAP_GROWING_PERCENT=${JSON.stringify(bad)}: it must be a whole percentage from 1 to 999.\n`)
    })
  }
})
