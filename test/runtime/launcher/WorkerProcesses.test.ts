import { describe, expect, it } from "vitest"
import * as WorkerProcesses from "../../../runtime/launcher/WorkerProcesses.ts"

const MiB = 2 ** 20

describe("WorkerProcesses: a worker's V8 heap from its memory budget", () => {
  const table: ReadonlyArray<readonly [string, number, ReadonlyArray<string>]> = [
    ["the default budget (256 MiB): V8's young generation", 256 * MiB, ["--max-old-space-size=384"]],
    ["a large budget", 4096 * MiB, ["--max-old-space-size=4224"]],
    ["a 64 MiB budget: a 4 MiB semi-space, so its resident memory is not young garbage", 64 * MiB, ["--max-old-space-size=256", "--max-semi-space-size=4"]],
    ["a 16 MiB budget: 1 MiB", 16 * MiB, ["--max-old-space-size=256", "--max-semi-space-size=1"]],
    ["a tiny budget: never below 1 MiB", 1 * MiB, ["--max-old-space-size=256", "--max-semi-space-size=1"]],
    ["just under 256 MiB: 15 MiB", 255 * MiB, ["--max-old-space-size=383", "--max-semi-space-size=15"]]
  ]
  for (const [name, budget, flags] of table) it(name, () => { expect(WorkerProcesses.heapFlags(budget)).toEqual(flags) })
})
