import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { useTempDirs } from "../TempDirs.ts"

const tempDir = useTempDirs("zephyr-execution-")

describe("Execution: a resumed run reruns a stage that reads a stage that ran again, and keeps the others", () => {
  it("a changed input file of a join's left side reruns the left side and the join, not the right side", async () => {
    const dir = tempDir()
    const input = path.join(dir, "left", "a.txt")
    fs.mkdirSync(path.dirname(input), { recursive: true })
    fs.writeFileSync(input, "1\n2\n3\n")
    const calls = { left: 0, right: 0 }
    let failing = true
    // Stage 0: the left side's map and scatter; 1 and 2: the right side; 3: the left reduce, the join and a map that fails at first.
    const ds = Dataset.readText(`${path.dirname(input)}/*.txt`)
      .map((line) => {
        calls.left++
        return { k: Number(line) % 2, n: Number(line) }
      })
      .groupBy((r) => r.k, (k, rs) => ({ k, sum: [...rs].reduce((a, r) => a + r.n, 0) }), { numOutputShards: 2 })
      .sortedMergeJoin(
        Dataset.fromList([0, 1])
          .map((k) => {
            calls.right++
            return { k, name: k === 0 ? "even" : "odd" }
          })
          .groupBy((r) => r.k, (_k, rs) => [...rs][0]!, { numOutputShards: 2 }),
        { leftKey: (l) => l.k, rightKey: (r) => r.k }
      )
      .map((r) => {
        if (failing) throw new Error("failing on purpose")
        return r
      })
    expect(Zephyr.compile(ds).stages.map((s) => s.kind)).toEqual(["map", "join-right", "join-right", "reduce"])
    const options = { backend: "in-process", workers: 2, chunkDir: path.join(dir, "chunks"), executionId: "join-resume", maxShardFailures: 1 } as const
    await expect(Zephyr.run(ds, options)).rejects.toThrow(/failing on purpose/)
    expect(calls).toEqual({ left: 3, right: 2 })

    fs.appendFileSync(input, "4\n")
    failing = false
    const { results } = await Zephyr.run(ds, options)
    expect(calls).toEqual({ left: 7, right: 2 }) // the left side read its four lines again; the right side was kept
    expect([...results].sort((a, b) => a.k - b.k)).toEqual([{ k: 0, sum: 6, name: "even" }, { k: 1, sum: 4, name: "odd" }])
  }, 120_000)
})
