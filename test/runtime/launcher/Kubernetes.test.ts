import { describe, expect, it } from "@effect/vitest"
import type { V1Pod } from "@kubernetes/client-node"
import { Cause, Effect, Exit, Fiber, Logger, Option } from "effect"
import type * as Executable from "../../../executable/Executable.ts"
import * as Coordinator from "../../../runtime/coordinator/Coordinator.ts"
import { defaults } from "../../../runtime/coordinator/Scheduler.ts"
import * as Kubernetes from "../../../runtime/launcher/Kubernetes.ts"
import * as KubernetesOptions from "../../../runtime/launcher/KubernetesOptions.ts"
import type { PoolContext } from "../../../runtime/launcher/Launcher.ts"
import * as RunOptions from "../../../runtime/RunOptions.ts"
import { FakeCluster } from "./FakeCluster.ts"

// The launcher's lifecycle against an in-memory cluster (FakeCluster) and a real coordinator:
// what it creates and in which order, that it deletes it all however the pool ends, and that
// a pod that fails, is evicted or deleted is a dead worker at once.

const spec = {
  executionId: "e1",
  module: { path: "/app/pipeline.ts", args: {} },
  fingerprint: "f",
  executionDir: "/nowhere",
  heartbeatIntervalMs: 500,
  memoryBudgetBytes: 256 << 20,
  sharedNames: [],
  maxMessageBytes: 1 << 20
}

const resolved = (options: KubernetesOptions.KubernetesOptions = {}, listen = "127.0.0.1:0") =>
  KubernetesOptions.resolve({ image: "registry.example/pipeline:1", coordinatorAddress: "10.0.0.5:7070", ...options }, {
    listen, chunkDirGiven: true, memoryBudgetBytes: spec.memoryBudgetBytes, cwd: "/app", defaults: RunOptions.defaults.kubernetes
  })

const coordinator = Coordinator.make({
  spec, stages: 1, longPollMs: 50,
  // Heartbeats would take minutes: only the pod listing can tell a worker died.
  config: { ...defaults, heartbeatTimeoutMs: 600_000, startupGraceMs: 0, sweepIntervalMs: 100, noWorkersTimeoutMs: 600_000 }
})

const context = (c: Coordinator.Coordinator, workers = 2, maxWorkerRestarts = 1): PoolContext => ({
  name: "pipe-1a2b-a1", coordinator: c, spec, executable: {} as Executable.Executable, layer: undefined, shared: {}, workers, maxWorkerRestarts
})

const launcher = (cluster: FakeCluster, options = resolved()) => Kubernetes.make(options, { api: cluster.layer, pollIntervalMs: 20 })

const waitUntil = (check: () => boolean, what: string) =>
  Effect.gen(function* () {
    for (let i = 0; i < 500; i++) {
      if (check()) return
      yield* Effect.sleep("10 millis")
    }
    return yield* Effect.dieMessage(`timed out waiting for ${what}`)
  })

/** As a pod's worker registers: on its pod (ZEPHYR_WORKER_HOST, the pod's name). */
/** Registers `workerId` from `pod`; `incarnation` tells two processes under one id apart. */
const register = (c: Coordinator.Coordinator, workerId: string, pod = "h", incarnation?: string) =>
  c.handlers.Register({ workerId, fingerprint: "f", pid: 1, host: pod, ...(incarnation === undefined ? {} : { incarnation }) })

/** Collects the messages logged meanwhile into `logs`. */
const capturingLogs = (logs: Array<string>) =>
  Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => { logs.push(Array.isArray(message) ? message.join(" ") : String(message)) })))

describe("Kubernetes launcher", () => {
  it.scopedLive("creates the Job suspended, then its Secret owned by the Job, then starts the Job; the pod spec holds neither the token nor the address", () =>
    Effect.gen(function* () {
      const cluster = new FakeCluster()
      const c = yield* coordinator
      yield* Effect.scoped(Effect.gen(function* () {
        yield* launcher(cluster).start(context(c))
        expect(cluster.ops().slice(0, 3)).toEqual(["createJob", "createSecret", "resumeJob"])
        const job = cluster.calls[0]!.body as { spec: { suspend: boolean; completions: number; parallelism: number; completionMode: string; backoffLimitPerIndex: number } }
        expect(job.spec).toMatchObject({ suspend: true, completionMode: "Indexed", completions: 2, parallelism: 2, backoffLimitPerIndex: 1 })
        const stored = [...cluster.jobs.values()][0]!
        const secret = [...cluster.secrets.values()][0]!
        expect(secret.metadata?.ownerReferences).toEqual([{ apiVersion: "batch/v1", kind: "Job", name: stored.metadata!.name, uid: stored.metadata!.uid }])
        expect(secret.stringData?.coordinator).toBe("10.0.0.5:7070")
        expect(secret.stringData?.token).toMatch(/^[A-Za-z0-9_-]{32}$/)
        const podSpec = JSON.stringify(cluster.calls[0]!.body)
        expect(podSpec).not.toContain(secret.stringData!.token!)
        expect(podSpec).not.toContain("10.0.0.5")
        expect(stored.spec?.suspend).toBe(false)
        expect(cluster.pods.size).toBe(2)
        yield* waitUntil(() => cluster.ops().includes("listPods"), "the pods to be listed")
      }))
      expect(cluster.ops().filter((op) => op.startsWith("delete"))).toEqual(["deleteJob", "deleteSecret"])
      expect(cluster.jobs.size + cluster.secrets.size + cluster.pods.size).toBe(0)
    }))

  it.scopedLive("with the driver in a pod, puts a Service selecting it in front of the coordinator, and deletes it too", () =>
    Effect.gen(function* () {
      const cluster = new FakeCluster()
      cluster.defaultNamespace = "batch-jobs"
      const c = yield* coordinator
      yield* Effect.scoped(Effect.gen(function* () {
        yield* launcher(cluster, resolved({ coordinatorAddress: undefined, driverSelector: "app=zephyr-driver" }, "0.0.0.0:0")).start(context(c))
        expect(cluster.ops().slice(0, 4)).toEqual(["createJob", "createSecret", "createService", "resumeJob"])
        const service = [...cluster.services.values()][0]!
        expect(service.metadata?.namespace).toBe("batch-jobs")
        expect(service.spec?.selector).toEqual({ app: "zephyr-driver" })
        const port = service.spec!.ports![0]!.port
        expect(port).toBeGreaterThan(0)
        expect([...cluster.secrets.values()][0]!.stringData?.coordinator).toBe(`${service.metadata!.name}.batch-jobs.svc:${port}`)
      }))
      expect(cluster.ops().filter((op) => op.startsWith("delete"))).toEqual(["deleteJob", "deleteSecret", "deleteService"])
      expect(cluster.services.size).toBe(0)
    }))

  it.scopedLive("deletes the Job and the Secret when the run fails or is interrupted", () =>
    Effect.gen(function* () {
      const c = yield* coordinator
      const failed = new FakeCluster()
      const exit = yield* Effect.exit(Effect.scoped(Effect.gen(function* () {
        yield* launcher(failed).start(context(c))
        return yield* Effect.fail("the run failed")
      })))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(failed.ops().filter((op) => op.startsWith("delete"))).toEqual(["deleteJob", "deleteSecret"])
      expect(failed.jobs.size + failed.secrets.size + failed.pods.size).toBe(0)

      const interrupted = new FakeCluster()
      const started = yield* Effect.makeLatch(false)
      const fiber = yield* Effect.fork(Effect.scoped(Effect.gen(function* () {
        yield* launcher(interrupted).start(context(c))
        yield* started.open
        return yield* Effect.never
      })))
      yield* started.await
      expect(interrupted.pods.size).toBe(2)
      yield* Fiber.interrupt(fiber)
      expect(interrupted.ops().filter((op) => op.startsWith("delete"))).toEqual(["deleteJob", "deleteSecret"])
      expect(interrupted.jobs.size + interrupted.secrets.size + interrupted.pods.size).toBe(0)
    }))

  it.scopedLive("a refused call fails the start with the API's answer and what to grant, and leaves nothing behind", () =>
    Effect.gen(function* () {
      const cluster = new FakeCluster()
      cluster.refuse("createSecret", 403, "Forbidden", `secrets is forbidden: User "system:serviceaccount:default:driver" cannot create resource "secrets" in API group "" in the namespace "default"`)
      const c = yield* coordinator
      const exit = yield* Effect.exit(Effect.scoped(launcher(cluster).start(context(c))))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
      expect(error).toMatchObject({ _tag: "ZephyrInfraError", reason: "kubernetes-api", retryable: false })
      expect(error?.message).toContain("Could not create Secret zephyr-pipe-1a2b-a1 in namespace default: the Kubernetes API answered 403 Forbidden")
      expect(error?.message).toContain("examples/kubernetes/rbac.yaml")
      expect(cluster.ops()).toContain("deleteJob")
      expect(cluster.jobs.size + cluster.pods.size).toBe(0)
    }))

  it.scopedLive("a replaced pod's failure, seen after its replacement registered, leaves the replacement and its shard alone", () =>
    Effect.gen(function* () {
      const cluster = new FakeCluster()
      const logs: Array<string> = []
      const c = yield* coordinator
      yield* Effect.scoped(Effect.gen(function* () {
        yield* launcher(cluster).start(context(c, 1, 1))
        const old = cluster.podsAt("zephyr-pipe-1a2b-a1", 0)[0]!
        yield* register(c, "pipe-1a2b-a1-w0", old.metadata!.name!, "p1")
        const stage = yield* Effect.fork(c.runStage(0, [{ input: { kind: "list", index: 0 } }], true))
        yield* c.handlers.Pull({ workerId: "pipe-1a2b-a1-w0", reports: [], max: 1 })
        // The replacement's worker registers (from another pod) before the launcher sees the old pod fail.
        yield* register(c, "pipe-1a2b-a1-w0", "zephyr-pipe-1a2b-a1-0-replacement", "p2")
        const held = yield* c.handlers.Pull({ workerId: "pipe-1a2b-a1-w0", reports: [], max: 1 })
        expect(held.kind === "tasks" && held.tasks[0]).toMatchObject({ shard: 0, attempt: 1 })
        const polls = () => cluster.ops().filter((op) => op === "listPods").length
        cluster.podExited(old.metadata!.uid!, 137)
        const seen = polls()
        yield* waitUntil(() => polls() >= seen + 3, "the launcher to list the failed pod")
        const status = yield* c.status
        expect(status.workers.find((w) => w.id === "pipe-1a2b-a1-w0"), JSON.stringify(status.workers)).toMatchObject({ state: "busy", shards: [0], deaths: 0 })
        expect(logs.filter((l) => l.includes("exited"))).toEqual([])
        yield* Fiber.interrupt(stage)
      })).pipe(capturingLogs(logs))
    }))

  const deaths: ReadonlyArray<readonly [string, (cluster: FakeCluster, pod: V1Pod) => void, RegExp]> = [
    ["exits with an error", (cluster, pod) => cluster.podExited(pod.metadata!.uid!, 137), /pod zephyr-pipe-1a2b-a1-0-\w+ failed: container Error with exit code 137/],
    ["is evicted", (cluster, pod) => cluster.evict(pod), /pod zephyr-pipe-1a2b-a1-0-\w+ failed: Evicted \(The node was low on resource: memory\.\)/],
    ["is deleted", (cluster, pod) => cluster.deletePod(pod), /pod zephyr-pipe-1a2b-a1-0-\w+ was deleted/]
  ]
  for (const [what, kill, reason] of deaths) {
    it.scopedLive(`a worker pod that ${what} is a dead worker at once: the shard it held is re-queued`, () =>
      Effect.gen(function* () {
        const cluster = new FakeCluster()
        const logs: Array<string> = []
        const c = yield* coordinator
        yield* Effect.scoped(Effect.gen(function* () {
          yield* launcher(cluster).start(context(c, 2, 0))
          yield* register(c, "pipe-1a2b-a1-w0", cluster.podsAt("zephyr-pipe-1a2b-a1", 0)[0]!.metadata!.name!)
          yield* register(c, "pipe-1a2b-a1-w1", cluster.podsAt("zephyr-pipe-1a2b-a1", 1)[0]!.metadata!.name!)
          const stage = yield* Effect.fork(c.runStage(0, [{ input: { kind: "list", index: 0 } }], true))
          const first = yield* c.handlers.Pull({ workerId: "pipe-1a2b-a1-w0", reports: [], max: 1 })
          expect(first.kind === "tasks" && first.tasks[0]?.shard).toBe(0)
          for (const pod of cluster.pods.values()) cluster.podStarted(pod.metadata!.uid!)
          kill(cluster, cluster.podsAt("zephyr-pipe-1a2b-a1", 0)[0]!)
          // No heartbeat timeout can have passed: the pod listing told the coordinator.
          let status = yield* c.status
          for (let i = 0; i < 500 && status.workers.find((w) => w.id === "pipe-1a2b-a1-w0")?.state !== "dead"; i++) {
            yield* Effect.sleep("10 millis")
            status = yield* c.status
          }
          expect(status.workers.find((w) => w.id === "pipe-1a2b-a1-w0")).toMatchObject({ state: "dead", deaths: 1 })
          const again = yield* c.handlers.Pull({ workerId: "pipe-1a2b-a1-w1", reports: [], max: 1 })
          expect(again.kind === "tasks" && again.tasks[0]).toMatchObject({ shard: 0, attempt: 1 })
          expect(logs.find((l) => l.includes("worker pipe-1a2b-a1-w0 exited"))).toMatch(reason)
          yield* Fiber.interrupt(stage)
        })).pipe(capturingLogs(logs))
      }))
  }

  it.scopedLive("the pool is gone when the Job is over: every index failed past its restarts", () =>
    Effect.gen(function* () {
      const cluster = new FakeCluster()
      const c = yield* coordinator
      yield* Effect.scoped(Effect.gen(function* () {
        const pool = yield* launcher(cluster).start(context(c, 2, 1))
        for (let round = 0; round < 2; round++) {
          for (const pod of [...cluster.pods.values()]) if (pod.status?.phase === "Pending") cluster.podExited(pod.metadata!.uid!, 1)
        }
        // Two failures per index with one restart each: both indexes failed, the Job failed.
        expect([...cluster.jobs.values()][0]!.status?.conditions?.[0]).toMatchObject({ type: "Failed", status: "True" })
        yield* pool.gone.pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "the pool was never gone" }))
      }))
    }))
})
