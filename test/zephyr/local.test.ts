import * as fs from "node:fs"
import * as path from "node:path"
import { Layer } from "effect"
import { describe, expect, it } from "vitest"
import { type Dataset, Pipeline, Zephyr } from "zephyr"
import { Prefix } from "./fixtures/needs-service.ts"
import { readJsonlFile, rejection, sortedJson, useTempDirs } from "./helpers.ts"

/**
 * The local backend: real worker processes (`workers: 2`) that import the module by path,
 * rebuild the plan and prove its fingerprint. Each run costs a few seconds of process
 * start-up, so these tests are few and each checks several things.
 */
const tmp = useTempDirs()

const pipelines = "test/zephyr/fixtures/pipelines.ts"
const service = "test/zephyr/fixtures/service.ts"
const nondeterministic = "test/compiler/fixtures/modules/nondeterministic.ts"
const needsService = "test/zephyr/fixtures/needs-service.ts"

/** The same module export run in this process, for comparison. */
const inProcess = async (module: string, options: { export?: string; args?: Record<string, string>; shared?: Record<string, unknown> } = {}) => {
  const { shared, ...load } = options
  const loaded = await Pipeline.load(module, load)
  return Zephyr.run(loaded.dataset as Dataset<any>, { backend: "in-process", workers: 2, shared, ...(loaded.layer ? { layer: loaded.layer } : {}) })
}

const userCounters = (counters: Record<string, number>) =>
  Object.fromEntries(Object.entries(counters).filter(([k]) => !k.startsWith("zephyr/")))

describe("local backend (worker processes)", () => {
  it("runs a groupBy + join with counters, from a function export of args, like in-process", async () => {
    const options = { export: "spend", args: { shards: "3" } }
    const local = await Zephyr.runModule<{ user: number; total: number; n: number; name: string | null }>(pipelines, { workers: 2, ...options })
    const here = await inProcess(pipelines, options)
    expect(local.results).toEqual(here.results)
    expect(userCounters(local.counters)).toEqual(userCounters(here.counters))
    // And both are right.
    const expected = new Map<number, { user: number; total: number; n: number; name: string | null }>()
    for (let i = 0; i < 120; i++) {
      const user = (i * 7) % 13
      const cur = expected.get(user) ?? { user, total: 0, n: 0, name: user < 10 ? `user-${user}` : null }
      expected.set(user, { ...cur, total: cur.total + (i % 10), n: cur.n + 1 })
    }
    expect(sortedJson(local.results)).toEqual(sortedJson([...expected.values()]))
    expect(local.counters).toMatchObject({ events: 120, amount: 540, groups: 13, largestGroup: 10 })
  })

  it("writes one file per shard, the same files as in-process", async () => {
    const dir = tmp()
    const local = await Zephyr.runModule<string>(pipelines, { workers: 2, export: "written", args: { out: `${dir}/local` } })
    const here = await inProcess(pipelines, { export: "written", args: { out: `${dir}/here` } })
    const names = [0, 1, 2, 3].map((i) => `totals-0000${i}-of-4.jsonl`)
    expect(local.results).toEqual(names.map((n) => `${dir}/local/${n}`))
    expect(fs.readdirSync(path.join(dir, "local")).sort()).toEqual(names)
    expect(local.results.map(readJsonlFile)).toEqual((here.results as Array<string>).map(readJsonlFile))
    expect(local.results.flatMap(readJsonlFile)).toHaveLength(13)
  })

  it("rejects a user error with the same ZephyrWorkerError as in-process", async () => {
    const local = await rejection(Zephyr.runModule(pipelines, { workers: 2, export: "failing" }))
    const here = await rejection(inProcess(pipelines, { export: "failing" }))
    for (const err of [local, here]) {
      expect(err._tag).toBe("ZephyrWorkerError")
      expect(err.message).toContain("cannot handle 5")
      expect(err.message).toMatch(/stage 0\b/i)
      expect(err.message).toMatch(/shard 4\b/i)
      expect([err.stage, err.shard]).toEqual([0, 4])
    }
  })

  it("builds the module's `layer` export once in every worker process (Pipeline.load + Zephyr.run)", async () => {
    const loaded = await Pipeline.load(service)
    const local = await Zephyr.run(loaded.dataset as Dataset<{ n: number; pid: number }>, { backend: "local", workers: 2, shared: { offset: 1000 } })
    expect(local.results.map((r) => r.n)).toEqual(Array.from({ length: 12 }, (_, i) => i * 3 + 1000))
    const pids = new Set(local.results.map((r) => r.pid))
    expect(pids.has(process.pid)).toBe(false) // it really ran in other processes
    expect(pids.size).toBeLessThanOrEqual(2)
    expect(local.counters.buildsPerProcess).toBe(1) // 12 tasks, one build per process
    const here = await inProcess(service, { shared: { offset: 1000 } })
    expect(here.results.map((r: any) => r.n)).toEqual(local.results.map((r) => r.n))
  })

  it("refuses a `layer` option it cannot ship to worker processes", async () => {
    const outcome = await Zephyr.runModule<string>(needsService, { workers: 2, maxShardFailures: 1, layer: Layer.succeed(Prefix, ">") })
      .then((r) => r.results, (e) => e as Error)
    if (Array.isArray(outcome)) expect(outcome).toEqual([">a", ">b"])
    else {
      expect(outcome.message).toMatch(/layer/)
      expect(outcome.message).not.toContain("Service not found")
    }
  })

  it("rejects the run when a worker rebuilds a different plan (fingerprint)", async () => {
    await Pipeline.load(nondeterministic) // this process's next build differs from a fresh process's first
    const err = await rejection(Zephyr.runModule(nondeterministic, { workers: 2 }))
    expect(err.message).toContain("fingerprint")
  })
})
