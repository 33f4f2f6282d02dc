import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { compile } from "../../compiler/Compiler.ts"
import * as Counters from "../../dsl/Counters.ts"
import { Dataset } from "../../dsl/Dataset.ts"
import type { ShardOutput } from "../../rpc/Protocol.ts"
import * as Transport from "../../rpc/Transport.ts"
import * as Coordinator from "../../runtime/coordinator/Coordinator.ts"
import { defaults } from "../../runtime/coordinator/Scheduler.ts"
import * as StageInputs from "../../runtime/coordinator/StageInputs.ts"
import * as Worker from "../../runtime/worker/Worker.ts"

const TOKEN = "status-test-token"

// Two stages: a map that counts what it maps and scatters by parity, a reduce that counts groups.
const executable = compile(
  Dataset.fromList([1, 2, 3, 4, 5, 6])
    .map((x) => { Counters.increment("mapped"); return { k: x % 2, x } })
    .groupBy((r) => r.k, (k, items) => { Counters.increment("groups"); let n = 0; for (const _ of items) n++; return { k, n } }, { numOutputShards: 2 })
)

describe("the Status RPC", () => {
  it.live("answers where the execution is, over the real transport; with a stage, only that stage's progress, counters and retries", () =>
    Effect.scoped(Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-status-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const spec = { executionId: "status", fingerprint: executable.plan.fingerprint, executionDir: dir, heartbeatIntervalMs: 1_000, memoryBudgetBytes: 64 << 20, sharedNames: [] }
      const stages = executable.plan.stages.map((s) => ({ id: s.id, kind: s.kind }))
      const coordinator = yield* Coordinator.make({ spec, stages, config: { ...defaults, maxTasksPerPull: 4 } })
      const { port } = yield* Transport.serveTcp(coordinator.handlers, { token: TOKEN })
      const worker = yield* Effect.fork(Effect.scoped(Effect.gen(function* () {
        const client = yield* Transport.connectTcp("127.0.0.1", port)
        return yield* Worker.run({ workerId: "w1", token: TOKEN, client, load: () => Effect.succeed({ executable, layer: undefined }), shared: () => () => undefined })
      })))
      // The stages in order, as an execution runs them.
      const outputs = new Map<number, ReadonlyArray<ShardOutput>>()
      for (const stage of executable.plan.stages) {
        const inputs = yield* Effect.promise(() => StageInputs.of(executable, stage, outputs))
        outputs.set(stage.id, yield* coordinator.runStage(stage.id, inputs, stage.id === stages.length - 1))
      }
      yield* Fiber.join(worker)

      const probe = yield* Transport.connectTcp("127.0.0.1", port)
      yield* probe.Hello({ workerId: "probe", token: TOKEN })
      const all = yield* probe.Status({})
      expect(all.counters).toMatchObject({ mapped: 6, groups: 2 })
      expect(all.stageProgress.map((s) => [s.id, s.kind, s.state, s.shards.done, s.shards.total])).toEqual([[0, "map", "done", 6, 6], [1, "reduce", "done", 2, 2]])
      expect(all.workers.map((w) => [w.id, w.state, w.tasksDone])).toEqual([["w1", "released", 8]])

      const first = yield* probe.Status({ stage: 0 })
      expect(first.counterStage).toBe(0)
      expect(first.counters.mapped).toBe(6)
      expect(first.counters.groups).toBeUndefined()
      expect(first.stageProgress.map((s) => s.id)).toEqual([0])
      // Built-in counters: six list items in, six items out to the shuffle.
      expect(first.stageProgress[0]!.io).toMatchObject({ recordsIn: 6, recordsOut: 6 })

      const second = yield* probe.Status({ stage: 1 })
      expect(second.counters.groups).toBe(2)
      expect(second.counters.mapped).toBeUndefined()
      expect(second.stageProgress[0]!.io).toMatchObject({ recordsIn: 6, recordsOut: 2 })
      expect(second.stageProgress[0]!.io.bytesIn).toBeGreaterThan(0)
    })), 60_000)
})
