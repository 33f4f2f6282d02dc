import * as fs from "node:fs"
import * as path from "node:path"
import { Runtime } from "effect"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { values } from "../../../runtime/task/CounterSet.ts"
import type { ShardOutput, Task } from "../../../rpc/Protocol.ts"
import * as StageInputs from "../../../runtime/coordinator/StageInputs.ts"
import * as SegmentIndex from "../../../runtime/shuffle/SegmentIndex.ts"
import * as BlockFile from "../../../runtime/storage/BlockFile.ts"
import * as TaskRunner from "../../../runtime/task/TaskRunner.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tmp = useTempDirs()

const env = (executionDir: string, memoryBudgetBytes = 256 << 20): TaskRunner.TaskEnv => ({
  workerId: "w0",
  executionDir,
  memoryBudgetBytes,
  runtime: Runtime.defaultRuntime as Runtime.Runtime<any>,
  shared: () => undefined
})

const task = (input: Parameters<typeof TaskRunner.run>[1]["input"]) =>
  ({ executionId: "e", stage: 0, generation: 0, shard: 0, totalShards: 1, attempt: 0, input })

/** Runs the given map tasks of a groupBy's first stage for real and returns the reduce stage's inputs. */
const scatteredFrom = async (exe: ReturnType<typeof Zephyr.compile>, dir: string, inputs: ReadonlyArray<Task["input"]>) => {
  const outputs: Array<ShardOutput> = []
  for (const [shard, input] of inputs.entries()) {
    const outcome = await TaskRunner.run(exe, { ...task(input), shard, totalShards: inputs.length }, env(dir))
    if (outcome.kind !== "done") throw new Error(`map task failed: ${outcome.error.message}`)
    outputs.push(outcome.output)
  }
  return (await StageInputs.of(exe, exe.plan.stages[1]!, new Map([[0, outputs]]))).map((x) => SegmentIndex.handedOut(x.input))
}

/** Runs every map task of a groupBy's first stage for real and returns the reduce stage's inputs. */
const scattered = async (exe: ReturnType<typeof Zephyr.compile>, dir: string, shards: number) => {
  const outputs: Array<ShardOutput> = []
  for (let shard = 0; shard < shards; shard++) {
    const outcome = await TaskRunner.run(exe, { ...task({ kind: "list", index: shard }), shard, totalShards: shards }, env(dir))
    if (outcome.kind !== "done") throw new Error(`map task failed: ${outcome.error.message}`)
    outputs.push(outcome.output)
  }
  return (await StageInputs.of(exe, exe.plan.stages[1]!, new Map([[0, outputs]]))).map((x) => SegmentIndex.handedOut(x.input))
}

describe("task runner", () => {
  it("a small task creates no directories: its output travels inline", async () => {
    const exe = Zephyr.compile(Dataset.fromList([1, 2, 3]).map((x) => x * 2))
    const dir = tmp()
    const outcome = await TaskRunner.run(exe, task({ kind: "list", index: 1 }), env(dir))
    expect(outcome.kind).toBe("done")
    if (outcome.kind !== "done" || outcome.output.kind !== "chunks") throw new Error("expected chunks")
    const ref = outcome.output.refs[0]!
    expect(ref.kind === "inline" ? BlockFile.inlineItems(ref) : ref).toEqual([4])
    expect(fs.readdirSync(dir)).toEqual([])
  })

  it("an output of few but big items goes to a chunk file: reports carry references, not bulk data", async () => {
    const exe = Zephyr.compile(Dataset.fromList([3]).flatMap((n) => Array.from({ length: n }, (_, i) => "x".repeat(100_000) + i)))
    const outcome = await TaskRunner.run(exe, task({ kind: "list", index: 0 }), env(tmp()))
    if (outcome.kind !== "done" || outcome.output.kind !== "chunks") throw new Error("expected chunks")
    expect(outcome.output.refs.map((r) => r.kind)).toEqual(["file"])
    expect(outcome.output.refs[0]).toMatchObject({ count: 3, take: 3 })
  })

  it("a task that spills uses its scratch directory and removes it", async () => {
    const dir = tmp()
    const input = tmp()
    fs.writeFileSync(path.join(input, "a.jsonl"), Array.from({ length: 3000 }, (_, i) => JSON.stringify({ i, s: "x".repeat(100) })).join("\n"))
    const exe = Zephyr.compile(Dataset.readJsonl(path.join(input, "*.jsonl")).mapShard(function* (rows) {
      let n = 0
      for (const _ of rows) n++
      yield n
    }))
    const outcome = await TaskRunner.run(exe, task({ kind: "file", path: path.join(input, "a.jsonl") }), env(dir, 64 * 1024))
    if (outcome.kind !== "done" || outcome.output.kind !== "chunks") throw new Error(`expected chunks, got ${JSON.stringify(outcome)}`)
    expect(values(outcome.counters.snapshot())["zephyr/gather_spill_files"]).toBe(1)
    const ref = outcome.output.refs[0]!
    expect(ref.kind === "inline" ? BlockFile.inlineItems(ref) : ref).toEqual([3000])
    // The scratch root may remain; the task's own directory is gone.
    const scratch = path.join(dir, "scratch")
    expect(fs.existsSync(scratch) ? fs.readdirSync(scratch) : []).toEqual([])
  })

  it("a reduce whose shuffle run file is missing fails as an infrastructure failure, not a user error", async () => {
    const exe = Zephyr.compile(Dataset.fromList([1, 2, 3, 4]).groupBy((x) => x % 2, (k, items) => ({ k, n: [...items].length }), { numOutputShards: 1 }))
    const dir = tmp()
    const [input] = await scattered(exe, dir, 4)
    const runs = fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".zrun"))
    expect(runs.length).toBeGreaterThan(0)
    fs.rmSync(path.join(dir, runs[0]!))
    const reduce: Task = { ...task(input!), stage: 1 }
    const outcome = await TaskRunner.run(exe, reduce, env(dir))
    expect(outcome).toMatchObject({ kind: "failed", infrastructure: true, permanent: false })
    if (outcome.kind === "failed") expect(outcome.error.message).toMatch(/disk error in .*ENOENT/)
  })

  it("a reduce task naming run files outside the execution's directory is refused (invalid-task), before any file is opened", async () => {
    const exe = Zephyr.compile(Dataset.fromList([1, 2, 3, 4]).groupBy((x) => x % 2, (k, items) => ({ k, n: [...items].length }), { numOutputShards: 1 }))
    const dir = tmp()
    const [input] = await scattered(exe, dir, 4)
    if (input?.kind !== "shuffle") throw new Error("expected a shuffle input")
    const outside = tmp()
    const outcome = await TaskRunner.run(exe, { ...task({ ...input, dir: outside }), stage: 1 }, env(dir))
    expect(outcome).toMatchObject({ kind: "failed", permanent: true, infrastructure: false, error: { reason: "invalid-task", stage: 1, shard: 0 } })
    if (outcome.kind === "failed") expect(outcome.error.message).toContain(`Malformed reduce task for shuffle target 0: its run files are in ${JSON.stringify(outside)}, outside the execution's directory ${dir}`)
  })

  it("a truncated shuffle run is an infrastructure failure too", async () => {
    const exe = Zephyr.compile(Dataset.fromList([1, 2, 3, 4]).groupBy((x) => x % 2, (k, items) => ({ k, n: [...items].length }), { numOutputShards: 1 }))
    const dir = tmp()
    const [input] = await scattered(exe, dir, 4)
    const run = fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).find((f) => f.endsWith(".zrun"))!
    fs.truncateSync(path.join(dir, run), 5)
    const outcome = await TaskRunner.run(exe, { ...task(input!), stage: 1 }, env(dir))
    expect(outcome).toMatchObject({ kind: "failed", infrastructure: true })
  })

  it("a reduce opens only its own segment list: with every mapper's manifest removed it still gives its groups", async () => {
    const exe = Zephyr.compile(Dataset.fromList([0, 1, 2, 3]).flatMap((s) => Array.from({ length: 10 }, (_, i) => s * 10 + i)).groupBy((x) => x % 5, (k, items) => ({ k, n: [...items].length }), { numOutputShards: 3 }))
    const dir = tmp()
    const inputs = await scatteredFrom(exe, dir, [0, 1, 2, 3].map((i) => ({ kind: "list" as const, index: i })))
    const manifests = fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /manifest-.*\.json$/.test(f))
    expect(manifests.length).toBe(4)
    for (const f of manifests) fs.rmSync(path.join(dir, f))
    const results: Array<unknown> = []
    for (const input of inputs) {
      if (input.kind !== "shuffle") throw new Error("expected a shuffle input")
      // Its list names its own segments only: at most one per mapper here (no spills).
      expect(input.segments.length / 5).toBeLessThanOrEqual(4)
      const outcome = await TaskRunner.run(exe, { ...task(input), stage: 1, shard: input.target, totalShards: 3 }, env(dir))
      if (outcome.kind !== "done" || outcome.output.kind !== "chunks") throw new Error(`reduce failed: ${JSON.stringify(outcome)}`)
      expect(values(outcome.counters.snapshot())["zephyr/shuffle_segments_read"] ?? 0).toBe(input.segments.length / 5)
      for (const ref of outcome.output.refs) results.push(...(ref.kind === "inline" ? BlockFile.inlineItems(ref) : []))
    }
    expect(results.sort((a, b) => (a as { k: number }).k - (b as { k: number }).k)).toEqual([0, 1, 2, 3, 4].map((k) => ({ k, n: 8 })))
  })

  it("a full disk (ENOSPC) is the machine's failure, wherever it happens", async () => {
    const exe = Zephyr.compile(Dataset.fromList([1]).map((x) => { fs.writeFileSync("/dev/full", "x"); return x }))
    const outcome = await TaskRunner.run(exe, task({ kind: "list", index: 0 }), env(tmp()))
    expect(outcome).toMatchObject({ kind: "failed", infrastructure: true, permanent: false })
    if (outcome.kind === "failed") expect(outcome.error.message).toContain("ENOSPC")
  })

  it("a user's own missing file stays a user error", async () => {
    const exe = Zephyr.compile(Dataset.fromList([1]).map((x) => fs.readFileSync(`/nonexistent/${x}.txt`, "utf8")))
    const outcome = await TaskRunner.run(exe, task({ kind: "list", index: 0 }), env(tmp()))
    expect(outcome).toMatchObject({ kind: "failed", infrastructure: false, error: { reason: "user-code" } })
  })
})
