import * as fs from "node:fs"
import * as path from "node:path"
import { Runtime } from "effect"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { values } from "../../../compiler/plan/CounterSet.ts"
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
})
