import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Logger } from "effect"
import { compile } from "../../compiler/Compiler.ts"
import { Dataset } from "../../dsl/Dataset.ts"
import type { ShardOutput } from "../../rpc/Protocol.ts"
import * as Transport from "../../rpc/Transport.ts"
import * as Coordinator from "../../runtime/coordinator/Coordinator.ts"
import { defaults } from "../../runtime/coordinator/Scheduler.ts"
import * as BlockFile from "../../runtime/storage/BlockFile.ts"
import * as Worker from "../../runtime/worker/Worker.ts"
import * as RawClient from "./RawClient.ts"

// A real coordinator served on 127.0.0.1, probed by raw clients over real sockets.
const TOKEN = "transport-test-token-4242"
const executable = compile(Dataset.fromList(Array.from({ length: 40 }, (_, i) => i)).map((x) => x * 10))
const FINGERPRINT = executable.plan.fingerprint
const SHARDS = 40

const serve = (options: Partial<Transport.ServeOptions> = {}) =>
  Effect.gen(function* () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-transport-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
    const spec = { executionId: "transport", fingerprint: FINGERPRINT, executionDir: dir, heartbeatIntervalMs: 1_000, memoryBudgetBytes: 64 << 20, sharedNames: [] }
    const coordinator = yield* Coordinator.make({ spec, stages: 1, config: { ...defaults, maxTasksPerPull: 4 } })
    const stage = yield* Effect.fork(coordinator.runStage(0, Array.from({ length: SHARDS }, (_, index) => ({ input: { kind: "list" as const, index } })), true))
    const address = yield* Transport.serveTcp(coordinator.handlers, { token: TOKEN, ...options })
    return { coordinator, stage, port: address.port }
  })

const connect = (port: number) =>
  Effect.acquireRelease(Effect.promise(() => RawClient.connect(port)), (c) => Effect.sync(() => c.socket.destroy()))

const hello = (token: string, workerId = "probe") => RawClient.request("Hello", { workerId, token })

/** Collects the log lines of an effect (and of the fibers its runtime starts). */
const collectingLogs = (lines: Array<string>) =>
  Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => { lines.push((Array.isArray(message) ? message : [message]).map(String).join(" ")) }))

const valueOf = (o: ShardOutput): unknown => (o.kind === "chunks" && o.refs[0]?.kind === "inline" ? BlockFile.inlineItems(o.refs[0])[0] : undefined)

describe("the coordinator's TCP transport", () => {
  it.live("refuses every call before Hello as unauthenticated, closes the connection, and the run is untouched", () =>
    Effect.scoped(Effect.gen(function* () {
      const { coordinator, port } = yield* serve()
      const report = { kind: "done", executionId: "transport", stage: 0, generation: 0, shard: 0, attempt: 0, counters: {}, durationMs: 1, output: { kind: "chunks", refs: [] } }
      const calls = [
        RawClient.request("Status", {}),
        RawClient.request("Register", { workerId: "probe", fingerprint: "wrong", pid: 1, host: "h" }),
        RawClient.request("Register", { workerId: "probe", fingerprint: FINGERPRINT, pid: 1, host: "h" }),
        RawClient.request("Pull", { workerId: "probe", reports: [], max: 8 }),
        RawClient.request("Pull", { workerId: "probe", reports: [report], max: 0 }),
        RawClient.request("Heartbeat", { workerId: "probe" }),
        RawClient.request("Abort", { workerId: "probe", error: { _tag: "ZephyrWorkerError", reason: "aborted", message: "probe" } })
      ]
      for (const call of calls) {
        const c = yield* connect(port)
        c.send(call)
        yield* Effect.promise(() => c.closed)
        expect(c.answers.map(RawClient.failureOf)).toMatchObject([{ _tag: "ZephyrInfraError", reason: "unauthenticated" }])
        expect(c.received().includes(FINGERPRINT)).toBe(false)
      }
      // Nothing reached the scheduler: no worker, no task handed out, no failure.
      expect(coordinator.scheduler.fatal).toBeUndefined()
      expect(coordinator.scheduler.workers.size).toBe(0)
      expect(yield* coordinator.status).toMatchObject({ completed: 0, inFlight: 0, queued: SHARDS, fatalError: null })
    })), 60_000)

  it.live("refuses a Hello with a wrong token (and says nothing of the run), welcomes the right one", () =>
    Effect.scoped(Effect.gen(function* () {
      const { coordinator, port } = yield* serve()
      const wrong = yield* connect(port)
      wrong.send(hello("not-the-token"))
      yield* Effect.promise(() => wrong.closed)
      expect(wrong.answers.map(RawClient.failureOf)).toMatchObject([{ reason: "unauthenticated" }])
      expect((wrong.answers.map(RawClient.failureOf)[0] as { message: string }).message).toContain("wrong token")
      const seen = wrong.received()
      expect(seen.includes(FINGERPRINT)).toBe(false)
      expect(seen.includes(TOKEN)).toBe(false)
      expect(seen.includes("not-the-token")).toBe(false)

      const right = yield* connect(port)
      right.send(hello(TOKEN, "w1"))
      const spec = RawClient.successOf(yield* Effect.promise(() => right.next())) as { fingerprint?: string }
      expect(spec.fingerprint).toBe(FINGERPRINT)
      right.send(RawClient.request("Status", {}))
      expect(RawClient.successOf(yield* Effect.promise(() => right.next()))).toMatchObject({ executionId: "transport", queued: SHARDS })
      // The session belongs to worker w1: a call for another worker is refused.
      right.send(RawClient.request("Heartbeat", { workerId: "w2" }))
      expect(RawClient.failureOf(yield* Effect.promise(() => right.next()))).toMatchObject({ reason: "unauthenticated" })
      expect(coordinator.scheduler.workers.size).toBe(0)
    })), 60_000)

  it.live("a keep-alive before Hello (a busy or reconnected client) keeps the connection, tells nothing, and Hello still works", () =>
    Effect.scoped(Effect.gen(function* () {
      const { port } = yield* serve()
      const c = yield* connect(port)
      c.send({ _tag: "Ping" })
      expect(yield* Effect.promise(() => c.next())).toEqual({ _tag: "Pong" })
      c.send(hello(TOKEN, "w1"))
      expect((RawClient.successOf(yield* Effect.promise(() => c.next())) as { fingerprint?: string }).fingerprint).toBe(FINGERPRINT)
      expect(c.isClosed()).toBe(false)
    })), 60_000)

  it.live("closes a connection that says no Hello within the timeout, and one that stops mid-frame", () =>
    Effect.scoped(Effect.gen(function* () {
      const { port } = yield* serve({ helloTimeoutMs: 200 })
      const silent = yield* connect(port)
      const partial = yield* connect(port)
      yield* Effect.promise(() => partial.sendBytes(Uint8Array.of(0, 0, 0, 100, 1, 2, 3)))
      yield* Effect.promise(() => Promise.all([silent.closed, partial.closed]))
      expect(silent.answers).toEqual([])
      expect(partial.answers).toEqual([])
    })), 60_000)

  it.live("holds at most maxConnections connections; a freed place takes a worker again", () =>
    Effect.scoped(Effect.gen(function* () {
      const { port } = yield* serve({ maxConnections: 3 })
      const held = [yield* connect(port), yield* connect(port), yield* connect(port)]
      const over = yield* connect(port)
      yield* Effect.promise(() => over.closed)
      expect(held.map((c) => c.isClosed())).toEqual([false, false, false])
      held[0]!.socket.destroy()
      yield* Effect.promise(() => held[0]!.closed)
      // The server counts the freed place once its side has closed too; retry until it has.
      let welcomed: unknown
      for (let i = 0; i < 50 && welcomed === undefined; i++) {
        const c = yield* connect(port)
        c.send(hello(TOKEN))
        welcomed = RawClient.successOf(yield* Effect.promise(() => c.next()))
        if (welcomed === undefined) yield* Effect.sleep("100 millis")
      }
      expect(welcomed).toMatchObject({ fingerprint: FINGERPRINT })
    })), 60_000)

  it.live("a 16 MiB junk frame is refused from its header and its connection closed, while a real worker finishes the stage", () => {
    const logs: Array<string> = []
    return Effect.scoped(Effect.gen(function* () {
      const { stage, port } = yield* serve()
      // A frame that announces 16 MiB: closed on its header, before any of its body is read.
      const announced = yield* connect(port)
      const header = Buffer.alloc(4)
      header.writeUInt32BE(16 << 20)
      yield* Effect.promise(() => announced.sendBytes(header))
      // 16 MiB of bytes that are no frame at all, sent whole.
      const junk = yield* connect(port)
      yield* Effect.fork(Effect.promise(() => junk.sendBytes(Buffer.alloc(16 << 20, 0xc1))))
      const client = yield* Transport.connectTcp("127.0.0.1", port)
      const reason = yield* Worker.run({ workerId: "w1", token: TOKEN, client, load: () => Effect.succeed({ executable, layer: undefined }), shared: () => () => undefined })
      expect(reason).toContain("no more work")
      expect((yield* Fiber.join(stage)).map(valueOf)).toEqual(Array.from({ length: SHARDS }, (_, i) => i * 10))
      yield* Effect.promise(() => Promise.all([announced.closed, junk.closed]))
      expect([...announced.answers, ...junk.answers]).toEqual([])
      expect(logs.some((l) => l.includes(`bytes, over the limit of ${1 << 20} bytes`))).toBe(true)
    })).pipe(Effect.provide(collectingLogs(logs)))
  }, 60_000)
})
