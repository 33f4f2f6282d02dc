import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import { useTempDirs } from "../../TempDirs.ts"

const tmp = useTempDirs()

interface Row { readonly id: number; readonly user: string; readonly text: string }

/** 3 JSONL files of 4,000 rows (read asynchronously, as users' files are), ~120 bytes a row. */
const writeInput = (dir: string): string => {
  for (let f = 0; f < 3; f++) {
    const lines: Array<string> = []
    for (let i = 0; i < 4000; i++) {
      const id = f * 4000 + i
      lines.push(JSON.stringify({ id, user: `u${(id * 7919) % 1500}`, text: `row ${id} `.padEnd(90, "abcdefgh") }))
    }
    fs.writeFileSync(path.join(dir, `part-${f}.jsonl`), lines.join("\n") + "\n")
  }
  return path.join(dir, "*.jsonl")
}

const sorted = <A>(xs: ReadonlyArray<A>): Array<A> => [...xs].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1))

const pipeline = (glob: string) =>
  Dataset.readJsonl(glob)
    .map((r) => r as unknown as Row)
    .groupBy((r) => r.user, (user, rows) => {
      const ids: Array<number> = []
      for (const r of rows) ids.push(r.id)
      return { user, ids: ids.sort((a, b) => a - b) }
    })

describe("memory budget", () => {
  it("a tiny budget makes the shuffle spill (runs and merge passes) and the output is the same as in memory", async () => {
    const glob = writeInput(tmp())
    const inMemory = await Zephyr.run(pipeline(glob), { workers: 2, chunkDir: tmp() })
    const tiny = await Zephyr.run(pipeline(glob), { workers: 2, chunkDir: tmp(), memoryBudget: 64 * 1024 })
    // In memory: one run per scatter task, no merge spills.
    expect(inMemory.counters["zephyr/shuffle_runs"]).toBe(3)
    expect(inMemory.counters["zephyr/shuffle_spill_files"] ?? 0).toBe(0)
    // Tiny: many runs per task, and the reduce merged through spill files.
    expect(tiny.counters["zephyr/shuffle_runs"]).toBeGreaterThan(3 * 5)
    expect(tiny.counters["zephyr/shuffle_spill_files"]).toBeGreaterThan(0)
    expect(tiny.counters["zephyr/shuffle_merge_passes"]).toBeGreaterThan(0)
    expect(inMemory.results.length).toBe(1500)
    expect(sorted(tiny.results)).toEqual(sorted(inMemory.results))
  })

  it("the gather before mapShard spills by bytes under a tiny budget and gives mapShard the same items", async () => {
    const glob = writeInput(tmp())
    const ds = Dataset.readJsonl(glob).mapShard(function* (rows, { shardIdx }) {
      let n = 0, sum = 0
      for (const r of rows) { n++; sum += (r as unknown as Row).id }
      yield { shardIdx, n, sum }
    })
    const inMemory = await Zephyr.run(ds, { workers: 2, chunkDir: tmp() })
    const tiny = await Zephyr.run(ds, { workers: 2, chunkDir: tmp(), memoryBudget: 64 * 1024 })
    expect(inMemory.counters["zephyr/gather_spill_files"] ?? 0).toBe(0)
    // 4,000 rows a shard: under the old 50,000-item limit, yet over 32 KiB of estimated bytes.
    expect(tiny.counters["zephyr/gather_spill_files"]).toBe(3)
    expect(tiny.counters["zephyr/gather_spill_bytes"]).toBeGreaterThan(3 * 4000 * 90)
    expect(tiny.results).toEqual(inMemory.results)
    expect(inMemory.results.map((r) => r.n)).toEqual([4000, 4000, 4000])
  })
})
