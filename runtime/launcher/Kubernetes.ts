import { randomBytes } from "node:crypto"
import { Deferred, Duration, Effect, type Layer, Schedule } from "effect"
import { ZephyrInfraError } from "../../plan/Errors.ts"
import * as Transport from "../../rpc/Transport.ts"
import * as RunOptions from "../RunOptions.ts"
import * as KubernetesApi from "./KubernetesApi.ts"
import * as KubernetesObjects from "./KubernetesObjects.ts"
import type * as KubernetesOptions from "./KubernetesOptions.ts"
import * as KubernetesPods from "./KubernetesPods.ts"
import type { Launcher, PoolContext } from "./Launcher.ts"
import { heapFlags, heapGrowingPercent } from "./WorkerProcesses.ts"

export interface Config {
  /** The cluster (default: the API server of the default kubeconfig chain). */
  readonly api?: Layer.Layer<KubernetesApi.KubernetesApi, ZephyrInfraError> | undefined
  readonly maxConnections?: number | undefined
  /** How often the pods are listed (default: RunOptions.defaults.kubernetes, slower for big pools). */
  readonly pollIntervalMs?: number | undefined
}

/** How long one clean-up call may take before the run gives up on it (and says how to clean up). */
const CLEANUP_TIMEOUT_MS = 15_000

const pollInterval = (workers: number): number =>
  Math.max(RunOptions.defaults.kubernetes.pollIntervalMs, workers * RunOptions.defaults.kubernetes.pollIntervalPerWorkerMs)

/**
 * Worker pods in a Kubernetes cluster: an Indexed Job (see KubernetesObjects) whose pods run
 * `zephyr worker` and dial the coordinator, which listens on the run's `listen` address with
 * a token made for this pool. The address and the token reach the pods only through a
 * Secret. The launcher lists the pool's pods every few seconds: a pod that failed, was
 * evicted or deleted is a dead worker at once (its shards re-queue), and pods that cannot
 * start are reported. The Job, the Secret and the Service are deleted when the pool's scope
 * closes: on success, failure and interruption (Ctrl-C); deleting the Job alone would take
 * the others with it (they name it their owner).
 */
export const make = (options: KubernetesOptions.Resolved, config: Config = {}): Launcher => ({
  name: "kubernetes",
  start: (ctx) => start(options, config, ctx).pipe(Effect.provide(config.api ?? KubernetesApi.layer))
})

const start = (options: KubernetesOptions.Resolved, config: Config, ctx: PoolContext) =>
  Effect.gen(function* () {
    if (!ctx.spec.module) {
      return yield* Effect.fail(new ZephyrInfraError({
        reason: "unsupported-backend",
        message: "Kubernetes worker pods rebuild the pipeline from its module, but this dataset was built in the calling process: run it with Zephyr.runModule(path) or the CLI.",
        retryable: false
      }))
    }
    if (ctx.layer) {
      return yield* Effect.fail(new ZephyrInfraError({
        reason: "unsupported-backend",
        message: "The `layer` option cannot travel to worker pods: export `layer` from the pipeline module (each worker builds it).",
        retryable: false
      }))
    }
    const api = yield* KubernetesApi.KubernetesApi
    const namespace = options.namespace ?? (yield* api.defaultNamespace)
    // Only this pool's pods may call: the token exists in this process and in the Secret.
    const token = randomBytes(24).toString("base64url")
    const listen = Transport.parseAddress(options.listen)
    const address = yield* Transport.serveTcp(ctx.coordinator.handlers, {
      host: listen.host, port: listen.port, token, maxFrameBytes: ctx.spec.maxMessageBytes, maxConnections: config.maxConnections
    }).pipe(
      Effect.mapError((e) => new ZephyrInfraError({ reason: "listen-failed", message: `Could not listen on ${options.listen}: ${e.message}`, retryable: false }))
    )
    if (options.route.kind === "address" && Transport.isLoopback(address.host)) {
      yield* Effect.logWarning(`kubernetes: the coordinator listens on ${address.host}:${address.port}, this machine only: pods reach it only through a tunnel to it; otherwise listen on an address they reach (--listen 0.0.0.0:${address.port}).`)
    }
    const pool: KubernetesObjects.Pool = {
      name: KubernetesObjects.objectName(ctx.name),
      poolName: ctx.name,
      namespace,
      workers: ctx.workers,
      maxWorkerRestarts: ctx.maxWorkerRestarts,
      port: address.port,
      heapFlags: heapFlags(ctx.spec.memoryBudgetBytes),
      heapGrowingPercent: heapGrowingPercent(ctx.spec.memoryBudgetBytes)
    }
    const where = `${namespace}/${pool.name}`
    // Never the token, should the API server quote what it refused.
    const scrub = (e: ZephyrInfraError) => e.message.includes(token) ? new ZephyrInfraError({ reason: e.reason, message: e.message.split(token).join("***"), retryable: e.retryable }) : e
    let closing = false

    const cleanUp = Effect.gen(function* () {
      closing = true
      const attempt = (what: string, call: Effect.Effect<void, ZephyrInfraError>) =>
        call.pipe(
          Effect.timeoutFail({ duration: Duration.millis(CLEANUP_TIMEOUT_MS), onTimeout: () => new ZephyrInfraError({ reason: "kubernetes-api", message: `no answer in ${CLEANUP_TIMEOUT_MS / 1000} s`, retryable: true }) }),
          Effect.catchAll((e) => Effect.logWarning(`kubernetes: could not delete ${what} ${where} (${scrub(e).message}); delete it with: kubectl delete -n ${namespace} job,secret,service ${pool.name}`))
        )
      yield* attempt("Job", api.deleteJob(namespace, pool.name))
      yield* attempt("Secret", api.deleteSecret(namespace, pool.name))
      if (options.route.kind === "service") yield* attempt("Service", api.deleteService(namespace, pool.name))
    })

    // Created suspended: no pod starts before the Secret it reads exists.
    const created = yield* Effect.acquireRelease(api.createJob(namespace, KubernetesObjects.job(options, pool)), () => cleanUp)
    const owner = KubernetesObjects.ownerReference(created)
    yield* api.createSecret(namespace, KubernetesObjects.secret(options, pool, owner, { coordinator: KubernetesObjects.coordinatorAddress(options, pool), token })).pipe(Effect.mapError(scrub))
    const service = KubernetesObjects.service(options, pool, owner)
    if (service) yield* api.createService(namespace, service)
    yield* api.resumeJob(namespace, pool.name)
    yield* Effect.logInfo(`kubernetes: Job ${where} started ${ctx.workers} worker pod(s) of ${options.image}${service ? `; they dial the coordinator through Service ${where}` : ""}`)

    const gone = yield* Deferred.make<void>()
    let tracked: ReadonlyMap<string, KubernetesPods.Tracked> = new Map()
    let failing = false
    const poll = Effect.gen(function* () {
      const pods = yield* api.listPods(namespace, KubernetesObjects.podSelector(pool))
      const seen = KubernetesPods.observe(tracked, pods)
      tracked = seen.tracked
      for (const w of seen.warnings) yield* Effect.logWarning(`kubernetes: ${w} (kubectl describe pod -n ${namespace} ...)`)
      if (!closing) {
        for (const d of seen.deaths) yield* ctx.coordinator.workerExited(KubernetesObjects.workerId(ctx.name, d.index), d.reason, d.outOfMemory, d.pod)
      }
      const over = KubernetesPods.finished(yield* api.readJob(namespace, pool.name))
      if (over !== undefined) {
        if (!closing) yield* Effect.logInfo(`kubernetes: worker pool ${where} is gone: ${over}`)
        yield* Deferred.succeed(gone, undefined)
      }
      failing = false
      return over !== undefined
    }).pipe(
      // The API server may be briefly away: say so once, keep watching.
      Effect.catchAll((e) => Effect.gen(function* () {
        if (!failing) yield* Effect.logWarning(`kubernetes: cannot watch the worker pods of ${where} (${e.message}); retrying`)
        failing = true
        return false
      }))
    )
    yield* Effect.forkScoped(poll.pipe(
      Effect.repeat({ schedule: Schedule.spaced(Duration.millis(config.pollIntervalMs ?? pollInterval(ctx.workers))), until: (over) => over })
    ))
    return { gone: Deferred.await(gone) }
  })
