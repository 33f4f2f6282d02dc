import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { compile } from "../../../compiler/Compiler.ts"
import { Dataset } from "../../../dsl/Dataset.ts"
import type { ShardOutput } from "../../../rpc/Protocol.ts"
import * as Transport from "../../../rpc/Transport.ts"
import * as Coordinator from "../../../runtime/coordinator/Coordinator.ts"
import { defaults } from "../../../runtime/coordinator/Scheduler.ts"
import * as BlockFile from "../../../runtime/storage/BlockFile.ts"
import * as Worker from "../../../runtime/worker/Worker.ts"

// A real coordinator served over TCP on 127.0.0.1 and a real worker loop running real
// tasks: the number of Pull calls is counted, never time.
const N = 2_000
const executable = compile(Dataset.fromList(Array.from({ length: N }, (_, i) => i)).map((x) => x + 1))

const valueOf = (o: ShardOutput): unknown => (o.kind === "chunks" && o.refs[0]?.kind === "inline" ? BlockFile.inlineItems(o.refs[0])[0] : undefined)

describe("batched pulls", () => {
  it.live(`${N} tiny tasks on one worker take far fewer Pull calls than tasks, and every result arrives once`, () =>
    Effect.scoped(Effect.gen(function* () {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-batching-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const spec = { executionId: "batching", fingerprint: executable.plan.fingerprint, executionDir: dir, heartbeatIntervalMs: 1_000, memoryBudgetBytes: 64 << 20, sharedNames: [] }
      const coordinator = yield* Coordinator.make({ spec, stages: 1, config: { ...defaults, maxTasksPerPull: 1024 } })
      let pulls = 0
      let reports = 0
      const handlers: Coordinator.Handlers = {
        ...coordinator.handlers,
        Pull: (p) => { pulls++; reports += p.reports.length; return coordinator.handlers.Pull(p) }
      }
      const { host, port } = yield* Transport.serveTcp(handlers, { token: "batching" })
      const client = yield* Transport.connectTcp(host, port)
      const stage = yield* Effect.fork(coordinator.runStage(0, Array.from({ length: N }, (_, index) => ({ input: { kind: "list" as const, index } })), true))
      const reason = yield* Worker.run({ workerId: "w1", token: "batching", client, load: () => Effect.succeed({ executable, layer: undefined }), shared: () => () => undefined })
      expect(reason).toContain("no more work")
      const outputs = yield* Fiber.join(stage)
      expect(outputs.map(valueOf)).toEqual(Array.from({ length: N }, (_, i) => i + 1))
      expect(reports).toBe(N) // each task reported exactly once
      // One task per pull would be N pulls, the old cap of 8 N/8: batches grow to what 50 ms of work holds.
      expect(pulls).toBeGreaterThan(1)
      expect(pulls).toBeLessThan(N / 16)
    })), 120_000)
})
