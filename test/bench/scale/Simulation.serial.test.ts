import { describe, expect, it } from "vitest"
import * as Simulation from "../../../bench/scale/Simulation.ts"

// The scale simulation, small: a real coordinator over 127.0.0.1 with a token, 100
// simulated workers in 2 processes, 1,000 map shards and a 100-way shuffle. Only what
// holds whatever the timings is asserted (the figures are the bench's: npm run bench --
// --only scale). Serial: a loaded machine must not make heartbeats late.
describe("scale simulation (small)", () => {
  it("100 workers: none declared dead, every shard completed exactly once, each reducer handed only its own segment list", async () => {
    const result = await Simulation.run({
      workers: 100, processes: 2, mapShards: 1_000, targets: 100,
      heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 30_000, taskMs: [5, 40]
    })
    expect(result.errors).toEqual([])
    expect(result.falseDeaths).toBe(0)
    expect(result.retries).toBe(0)
    expect(result.shardsNotRunOnce).toBe(0)
    expect(result.badLists).toBe(0)
    expect(result.heartbeats).toBeGreaterThan(0)
  }, 300_000)
})
