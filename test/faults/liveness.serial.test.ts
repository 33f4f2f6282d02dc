import { spawn } from "node:child_process"
import * as os from "node:os"
import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Pipeline, Zephyr } from "zephyr"
import * as Transport from "../../rpc/Transport.ts"
import * as Coordinator from "../../runtime/coordinator/Coordinator.ts"
import { defaults } from "../../runtime/coordinator/Scheduler.ts"

let dir: string
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-liveness-")) })
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

/** Blocks the coordinator's event loop, as a slow handler (a huge report, a long stage wait) would. */
const stall = (ms: number) => { const end = performance.now() + ms; while (performance.now() < end) { /* busy */ } }

describe("liveness at scale", () => {
  it("64 workers registering at once against a deliberately slow coordinator: no live worker is declared dead", async () => {
    const loaded = await Pipeline.load("test/faults/fixtures/tiny.ts")
    const plan = Zephyr.compile(loaded.dataset)
    const token = "liveness"
    const program = Effect.scoped(Effect.gen(function* () {
      const coordinator = yield* Coordinator.make({
        spec: { executionId: "liveness", module: { path: loaded.module.path, args: {} }, fingerprint: plan.fingerprint, executionDir: dir, heartbeatIntervalMs: 300, memoryBudgetBytes: 64 << 20, sharedNames: [] },
        stages: 1,
        config: { ...defaults, heartbeatTimeoutMs: 3_000, startupGraceMs: 3_000, sweepIntervalMs: 100, maxTasksPerPull: 1 }
      })
      let pulls = 0
      const slow: Coordinator.Handlers = {
        ...coordinator.handlers,
        // every registration costs 75 ms of blocked event loop: 64 of them ≈ 4.8 s, past the 3 s timeout
        Register: (p) => Effect.sync(() => stall(75)).pipe(Effect.zipRight(coordinator.handlers.Register(p))),
        // and one report handler blocks for 4 s, longer than the heartbeat timeout itself
        Pull: (p) => Effect.sync(() => { if (p.reports.length > 0 && ++pulls === 100) stall(4_000) }).pipe(Effect.zipRight(coordinator.handlers.Pull(p)))
      }
      const address = yield* Transport.serveTcp(slow, { token })
      const swarm = spawn(process.execPath, ["--import", "tsx", "test/faults/fixtures/swarm.ts", `${address.host}:${address.port}`, token, "64"], { stdio: ["ignore", "ignore", "inherit"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => swarm.kill("SIGKILL")))
      // All 64 must be in before the stage starts (else a fast stage could end first).
      while (coordinator.scheduler.workers.size < 64) yield* Effect.sleep("50 millis")
      const inputs = Array.from({ length: 256 }, (_, index) => ({ input: { kind: "list" as const, index } }))
      const outputs = yield* coordinator.runStage(0, inputs, true)
      return { outputs, scheduler: coordinator.scheduler, registered: coordinator.scheduler.workers.size }
    }))
    const { outputs, scheduler, registered } = await Effect.runPromise(program)
    expect(outputs).toHaveLength(256)
    expect(registered).toBe(64)
    expect([...scheduler.timeouts]).toEqual([])
    expect([...scheduler.workers.values()].filter((w) => w.deaths > 0).map((w) => w.id)).toEqual([])
  }, 120_000)
})
