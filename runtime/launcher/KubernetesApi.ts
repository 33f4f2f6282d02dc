import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { V1Job, V1Pod, V1Secret, V1Service } from "@kubernetes/client-node"
import { Context, Effect, Layer } from "effect"
import { ZephyrInfraError } from "../../plan/Errors.ts"
import * as ExternalImport from "../ExternalImport.ts"

/**
 * The calls the kubernetes launcher makes to the cluster, as a service: `layer` talks to
 * the API server through @kubernetes/client-node (loaded only when a pool starts: it is
 * large, and no other backend needs it); tests provide their own implementation. Every
 * failure is a ZephyrInfraError (`kubernetes-api`) that says what was refused and why;
 * reading or deleting something that does not exist is not a failure.
 */
export interface Service {
  /** The namespace of the kubeconfig's current context (in a pod: its own), else "default". */
  readonly defaultNamespace: Effect.Effect<string>
  readonly createJob: (namespace: string, job: V1Job) => Effect.Effect<V1Job, ZephyrInfraError>
  /** Lets a Job created suspended start its pods. */
  readonly resumeJob: (namespace: string, name: string) => Effect.Effect<void, ZephyrInfraError>
  /** The Job, or undefined when it does not exist (any more). */
  readonly readJob: (namespace: string, name: string) => Effect.Effect<V1Job | undefined, ZephyrInfraError>
  /** Deletes the Job and, in the background, its pods and the objects it owns. */
  readonly deleteJob: (namespace: string, name: string) => Effect.Effect<void, ZephyrInfraError>
  readonly createSecret: (namespace: string, secret: V1Secret) => Effect.Effect<void, ZephyrInfraError>
  readonly deleteSecret: (namespace: string, name: string) => Effect.Effect<void, ZephyrInfraError>
  readonly createService: (namespace: string, service: V1Service) => Effect.Effect<void, ZephyrInfraError>
  readonly deleteService: (namespace: string, name: string) => Effect.Effect<void, ZephyrInfraError>
  readonly listPods: (namespace: string, labelSelector: string) => Effect.Effect<ReadonlyArray<V1Pod>, ZephyrInfraError>
}

export class KubernetesApi extends Context.Tag("zephyr/KubernetesApi")<KubernetesApi, Service>() {}

/** What the driver needs to be allowed to do (examples/kubernetes/rbac.yaml grants it). */
const rbacHint = "the driver's account needs the Role in examples/kubernetes/rbac.yaml (create, get, patch and delete Jobs; create and delete Secrets and Services; list and watch Pods) in that namespace"

/** A failed API call as the user's sentence: what, where, the status and the server's message. */
export const failure = (what: string, namespace: string, e: unknown): ZephyrInfraError => {
  const code = typeof (e as { code?: unknown })?.code === "number" ? (e as { code: number }).code : undefined
  if (code === undefined) {
    const message = e instanceof Error ? e.message : String(e)
    return new ZephyrInfraError({ reason: "kubernetes-api", message: `Could not ${what} in namespace ${namespace}: the Kubernetes API server did not answer (${message}).`, retryable: true })
  }
  let body = (e as { body?: unknown }).body
  if (typeof body === "string") {
    try { body = JSON.parse(body) } catch { /* a plain-text body */ }
  }
  const status = typeof body === "object" && body !== null ? body as { reason?: string; message?: string } : {}
  const said = status.message ?? (typeof body === "string" && body.length > 0 ? body.slice(0, 300) : status.reason ?? "no message")
  const hint = code === 401 ? "; the kubeconfig's credentials were refused"
    : code === 403 ? `; ${rbacHint}`
    : code === 404 ? "; does the namespace exist?"
    : ""
  return new ZephyrInfraError({
    reason: "kubernetes-api",
    message: `Could not ${what} in namespace ${namespace}: the Kubernetes API answered ${code}${status.reason ? ` ${status.reason}` : ""}: ${said}${hint}.`,
    // The server or the network may recover; a refusal will not.
    retryable: code >= 500 || code === 429
  })
}

const isNotFound = (e: unknown): boolean => (e as { code?: unknown })?.code === 404

/** The service account files a pod gets; the client reads them when no kubeconfig is found. */
const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

/**
 * Where the client would take its configuration from: $KUBECONFIG, ~/.kube/config, or, in a
 * pod, its service account. Without any of them the client falls back to
 * http://localhost:8080, which is never what a user meant.
 */
const configSource = (): string | undefined => {
  if (process.env.KUBECONFIG) return `$KUBECONFIG (${process.env.KUBECONFIG})`
  const home = path.join(os.homedir(), ".kube", "config")
  if (fs.existsSync(home)) return home
  if (fs.existsSync(path.join(serviceAccountDir, "token"))) return "the pod's service account"
  return undefined
}

/** The API server of the default kubeconfig chain, through @kubernetes/client-node. */
export const layer: Layer.Layer<KubernetesApi, ZephyrInfraError> = Layer.effect(
  KubernetesApi,
  Effect.gen(function* () {
    if (configSource() === undefined) {
      return yield* Effect.fail(new ZephyrInfraError({
        reason: "kubernetes-api",
        message: "The kubernetes backend found no cluster to talk to: set $KUBECONFIG, create ~/.kube/config (kubectl's configuration), or run the driver in a pod (it then uses the pod's service account).",
        retryable: false
      }))
    }
    const k8s = yield* Effect.tryPromise({
      try: () => ExternalImport.load<typeof import("@kubernetes/client-node")>("@kubernetes/client-node"),
      catch: (e) => new ZephyrInfraError({ reason: "kubernetes-api", message: `Could not load @kubernetes/client-node (npm ci installs it): ${(e as Error)?.message ?? String(e)}`, retryable: false })
    })
    const config = yield* Effect.try({
      try: () => {
        const kc = new k8s.KubeConfig()
        kc.loadFromDefault()
        return kc
      },
      catch: (e) => new ZephyrInfraError({ reason: "kubernetes-api", message: `Could not read the Kubernetes configuration from ${configSource()}: ${(e as Error)?.message ?? String(e)}`, retryable: false })
    })
    const clients = yield* Effect.try({
      try: () => ({ batch: config.makeApiClient(k8s.BatchV1Api), core: config.makeApiClient(k8s.CoreV1Api) }),
      catch: (e) => new ZephyrInfraError({ reason: "kubernetes-api", message: `The Kubernetes configuration from ${configSource()} names no usable cluster: ${(e as Error)?.message ?? String(e)}`, retryable: false })
    })
    const { batch, core } = clients

    const call = <A>(what: string, namespace: string, f: () => Promise<A>): Effect.Effect<A, ZephyrInfraError> =>
      Effect.tryPromise({ try: f, catch: (e) => failure(what, namespace, e) })
    /** A call whose "not found" answer means there is nothing (left) to act on. */
    const unlessMissing = <A>(what: string, namespace: string, f: () => Promise<A>): Effect.Effect<A | undefined, ZephyrInfraError> =>
      Effect.tryPromise({ try: f, catch: (e) => e }).pipe(
        Effect.catchAll((e) => isNotFound(e) ? Effect.succeed(undefined) : Effect.fail(failure(what, namespace, e)))
      )

    const service: Service = {
      defaultNamespace: Effect.sync(() => {
        const context = config.getContextObject(config.getCurrentContext())
        return context?.namespace?.trim() || "default"
      }),
      createJob: (namespace, body) => call(`create Job ${body.metadata?.name}`, namespace, () => batch.createNamespacedJob({ namespace, body })),
      resumeJob: (namespace, name) =>
        // A JSON patch: the client sends its first content type, application/json-patch+json.
        call(`start Job ${name}`, namespace, () => batch.patchNamespacedJob({ namespace, name, body: [{ op: "replace", path: "/spec/suspend", value: false }] })).pipe(Effect.asVoid),
      readJob: (namespace, name) => unlessMissing(`read Job ${name}`, namespace, () => batch.readNamespacedJob({ namespace, name })),
      deleteJob: (namespace, name) =>
        unlessMissing(`delete Job ${name}`, namespace, () => batch.deleteNamespacedJob({ namespace, name, propagationPolicy: "Background" })).pipe(Effect.asVoid),
      createSecret: (namespace, body) => call(`create Secret ${body.metadata?.name}`, namespace, () => core.createNamespacedSecret({ namespace, body })).pipe(Effect.asVoid),
      deleteSecret: (namespace, name) => unlessMissing(`delete Secret ${name}`, namespace, () => core.deleteNamespacedSecret({ namespace, name })).pipe(Effect.asVoid),
      createService: (namespace, body) => call(`create Service ${body.metadata?.name}`, namespace, () => core.createNamespacedService({ namespace, body })).pipe(Effect.asVoid),
      deleteService: (namespace, name) => unlessMissing(`delete Service ${name}`, namespace, () => core.deleteNamespacedService({ namespace, name })).pipe(Effect.asVoid),
      // resourceVersion "0": served from the API server's cache, not a quorum read of etcd.
      listPods: (namespace, labelSelector) =>
        call("list the worker pods", namespace, () => core.listNamespacedPod({ namespace, labelSelector, resourceVersion: "0" })).pipe(Effect.map((list) => list.items))
    }
    return service
  })
)
