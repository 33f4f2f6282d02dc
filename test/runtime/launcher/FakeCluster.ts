import { type ChildProcess, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import type { V1Job, V1Pod, V1PodStatus, V1Secret, V1Service } from "@kubernetes/client-node"
import { Effect, Layer } from "effect"
import type { ZephyrInfraError } from "../../../plan/Errors.ts"
import * as KubernetesApi from "../../../runtime/launcher/KubernetesApi.ts"

/**
 * A stand-in for the part of a Kubernetes cluster the kubernetes launcher talks to: the
 * objects it creates, kept as the API server would (uids, owner references, garbage
 * collection when the Job is deleted), and the Job controller's essentials for an Indexed
 * Job (no pods while suspended, one pod per index, a failed pod replaced under its index up
 * to backoffLimitPerIndex unless it was disrupted, Complete/Failed conditions). It records
 * every call. Pods change state only when a test says so, or through a `Kubelet` that runs
 * their containers as local processes (`processKubelet`). It is not Kubernetes: nothing is
 * scheduled, no image is pulled, no network policy applies.
 */

export interface Call {
  readonly op: keyof KubernetesApi.Service
  readonly namespace: string
  readonly name: string
  /** What was sent, as sent. */
  readonly body?: unknown
}

export interface Kubelet {
  /** Starts the pod's container; it reports back through `cluster.podStarted/podExited`. */
  readonly start: (cluster: FakeCluster, pod: V1Pod) => void
  /** Stops the pod's container (deleted, evicted, its Job deleted). */
  readonly stop: (pod: V1Pod) => void
}

const clone = <A>(a: A): A => JSON.parse(JSON.stringify(a)) as A
const key = (namespace: string, name: string) => `${namespace}/${name}`
const uid = () => `${randomBytes(4).toString("hex")}-${randomBytes(2).toString("hex")}-${randomBytes(6).toString("hex")}`
const now = () => new Date().toISOString()

/** A refusal as @kubernetes/client-node reports it: an ApiException's code and Status body. */
export const apiException = (code: number, reason: string, message: string) =>
  Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", reason, message, code }) })

export class FakeCluster {
  readonly calls: Array<Call> = []
  readonly jobs = new Map<string, V1Job>()
  readonly secrets = new Map<string, V1Secret>()
  readonly services = new Map<string, V1Service>()
  /** By uid. */
  readonly pods = new Map<string, V1Pod>()
  /** Failed (undisrupted) pods per job uid and index. */
  private readonly failures = new Map<string, number>()
  /** Calls to refuse, with the refusal. */
  private readonly refusals = new Map<string, Error>()
  kubelet: Kubelet | undefined
  defaultNamespace = "default"

  constructor(kubelet?: Kubelet) {
    this.kubelet = kubelet
  }

  /** The next calls of `op` fail with this HTTP status. */
  refuse(op: keyof KubernetesApi.Service, code: number, reason: string, message: string): void {
    this.refusals.set(op, apiException(code, reason, message))
  }

  private check(op: keyof KubernetesApi.Service): void {
    const refusal = this.refusals.get(op)
    if (refusal) throw refusal
  }

  private record(call: Call): void {
    this.calls.push(call)
  }

  ops(): Array<string> {
    return this.calls.map((c) => c.op)
  }

  // ---- the API -----------------------------------------------------------------------------

  createJob(namespace: string, job: V1Job): V1Job {
    this.record({ op: "createJob", namespace, name: job.metadata?.name ?? "", body: clone(job) })
    this.check("createJob")
    const name = job.metadata!.name!
    if (this.jobs.has(key(namespace, name))) throw apiException(409, "AlreadyExists", `jobs.batch "${name}" already exists`)
    const stored = clone(job)
    stored.metadata = { ...stored.metadata, namespace, uid: uid(), creationTimestamp: now() as unknown as Date }
    stored.status = {}
    this.jobs.set(key(namespace, name), stored)
    this.reconcile(namespace, name)
    return clone(stored)
  }

  resumeJob(namespace: string, name: string): void {
    this.record({ op: "resumeJob", namespace, name })
    this.check("resumeJob")
    const job = this.jobs.get(key(namespace, name))
    if (!job) throw apiException(404, "NotFound", `jobs.batch "${name}" not found`)
    job.spec!.suspend = false
    this.reconcile(namespace, name)
  }

  readJob(namespace: string, name: string): V1Job | undefined {
    this.record({ op: "readJob", namespace, name })
    this.check("readJob")
    const job = this.jobs.get(key(namespace, name))
    return job ? clone(job) : undefined
  }

  deleteJob(namespace: string, name: string): void {
    this.record({ op: "deleteJob", namespace, name })
    this.check("deleteJob")
    const job = this.jobs.get(key(namespace, name))
    if (!job) return
    this.jobs.delete(key(namespace, name))
    // The garbage collector: the Job's pods, and what names it its owner.
    for (const pod of this.podsOf(job)) this.removePod(pod)
    for (const store of [this.secrets, this.services] as Array<Map<string, { metadata?: { ownerReferences?: Array<{ uid: string }> } }>>) {
      for (const [k, o] of store) if (o.metadata?.ownerReferences?.some((r) => r.uid === job.metadata?.uid)) store.delete(k)
    }
  }

  createSecret(namespace: string, secret: V1Secret): void {
    this.record({ op: "createSecret", namespace, name: secret.metadata?.name ?? "", body: clone(secret) })
    this.check("createSecret")
    this.secrets.set(key(namespace, secret.metadata!.name!), { ...clone(secret), metadata: { ...clone(secret.metadata), namespace, uid: uid() } })
  }

  deleteSecret(namespace: string, name: string): void {
    this.record({ op: "deleteSecret", namespace, name })
    this.check("deleteSecret")
    this.secrets.delete(key(namespace, name))
  }

  createService(namespace: string, service: V1Service): void {
    this.record({ op: "createService", namespace, name: service.metadata?.name ?? "", body: clone(service) })
    this.check("createService")
    this.services.set(key(namespace, service.metadata!.name!), { ...clone(service), metadata: { ...clone(service.metadata), namespace, uid: uid() } })
  }

  deleteService(namespace: string, name: string): void {
    this.record({ op: "deleteService", namespace, name })
    this.check("deleteService")
    this.services.delete(key(namespace, name))
  }

  listPods(namespace: string, labelSelector: string): Array<V1Pod> {
    this.record({ op: "listPods", namespace, name: labelSelector })
    this.check("listPods")
    const wanted = labelSelector.split(",").filter(Boolean).map((s) => s.split("=") as [string, string])
    return [...this.pods.values()]
      .filter((p) => p.metadata?.namespace === namespace && wanted.every(([k, v]) => p.metadata?.labels?.[k] === v))
      .map(clone)
  }

  /** The service, over this fake. */
  readonly service: KubernetesApi.Service = {
    defaultNamespace: Effect.sync(() => this.defaultNamespace),
    createJob: (namespace, job) => this.effect(`create Job ${job.metadata?.name}`, namespace, () => this.createJob(namespace, job)),
    resumeJob: (namespace, name) => this.effect(`start Job ${name}`, namespace, () => this.resumeJob(namespace, name)),
    readJob: (namespace, name) => this.effect(`read Job ${name}`, namespace, () => this.readJob(namespace, name)),
    deleteJob: (namespace, name) => this.effect(`delete Job ${name}`, namespace, () => this.deleteJob(namespace, name)),
    createSecret: (namespace, secret) => this.effect(`create Secret ${secret.metadata?.name}`, namespace, () => this.createSecret(namespace, secret)),
    deleteSecret: (namespace, name) => this.effect(`delete Secret ${name}`, namespace, () => this.deleteSecret(namespace, name)),
    createService: (namespace, service) => this.effect(`create Service ${service.metadata?.name}`, namespace, () => this.createService(namespace, service)),
    deleteService: (namespace, name) => this.effect(`delete Service ${name}`, namespace, () => this.deleteService(namespace, name)),
    listPods: (namespace, selector) => this.effect("list the worker pods", namespace, () => this.listPods(namespace, selector))
  }

  readonly layer: Layer.Layer<KubernetesApi.KubernetesApi, ZephyrInfraError> = Layer.succeed(KubernetesApi.KubernetesApi, this.service)

  private effect<A>(what: string, namespace: string, f: () => A): Effect.Effect<A, ZephyrInfraError> {
    return Effect.try({ try: f, catch: (e) => KubernetesApi.failure(what, namespace, e) })
  }

  // ---- the Job controller ------------------------------------------------------------------

  podsOf(job: V1Job): Array<V1Pod> {
    return [...this.pods.values()].filter((p) => p.metadata?.ownerReferences?.some((r) => r.uid === job.metadata?.uid))
  }

  /** The pods of a Job's index, oldest first. */
  podsAt(jobName: string, index: number, namespace?: string): Array<V1Pod> {
    const job = [...this.jobs.values()].find((j) => j.metadata?.name === jobName && (namespace === undefined || j.metadata?.namespace === namespace))
    return job ? this.podsOf(job).filter((p) => p.metadata?.annotations?.["batch.kubernetes.io/job-completion-index"] === String(index)) : []
  }

  private reconcile(namespace: string, name: string): void {
    const job = this.jobs.get(key(namespace, name))
    if (!job || job.spec?.suspend) return
    if (job.status?.conditions?.some((c) => c.status === "True" && (c.type === "Complete" || c.type === "Failed"))) return
    const completions = job.spec?.completions ?? 1
    const limit = job.spec?.backoffLimitPerIndex ?? 6
    const pods = this.podsOf(job)
    let succeeded = 0, failedIndexes = 0
    for (let index = 0; index < completions; index++) {
      const mine = pods.filter((p) => p.metadata?.annotations?.["batch.kubernetes.io/job-completion-index"] === String(index))
      if (mine.some((p) => p.status?.phase === "Succeeded")) { succeeded++; continue }
      if ((this.failures.get(`${job.metadata!.uid}/${index}`) ?? 0) > limit) { failedIndexes++; continue }
      if (mine.some((p) => p.status?.phase !== "Failed")) continue
      this.createPod(job, index)
    }
    if (succeeded + failedIndexes === completions) {
      job.status = { ...job.status, succeeded, conditions: [{ type: failedIndexes > 0 ? "Failed" : "Complete", status: "True", ...(failedIndexes > 0 ? { reason: "FailedIndexes", message: "Job has failed indexes" } : {}) }] }
    }
  }

  private createPod(job: V1Job, index: number): void {
    const template = clone(job.spec!.template)
    const name = `${job.metadata!.name}-${index}-${randomBytes(3).toString("hex").slice(0, 5)}`
    const pod: V1Pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: job.metadata!.namespace!,
        uid: uid(),
        creationTimestamp: now() as unknown as Date,
        labels: { ...template.metadata?.labels, "batch.kubernetes.io/job-name": job.metadata!.name!, "job-name": job.metadata!.name!, "batch.kubernetes.io/job-completion-index": String(index) },
        annotations: { "batch.kubernetes.io/job-completion-index": String(index) },
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata!.name!, uid: job.metadata!.uid!, controller: true }]
      },
      spec: template.spec!,
      status: { phase: "Pending" }
    }
    this.pods.set(pod.metadata!.uid!, pod)
    this.kubelet?.start(this, clone(pod))
  }

  private removePod(pod: V1Pod): void {
    this.pods.delete(pod.metadata!.uid!)
    this.kubelet?.stop(pod)
  }

  private jobOf(pod: V1Pod): V1Job | undefined {
    const owner = pod.metadata?.ownerReferences?.[0]
    return [...this.jobs.values()].find((j) => j.metadata?.uid === owner?.uid)
  }

  private ended(pod: V1Pod, status: V1PodStatus): void {
    pod.status = status
    const job = this.jobOf(pod)
    if (!job) return
    const disrupted = status?.conditions?.some((c) => c.type === "DisruptionTarget" && c.status === "True")
    if (status?.phase === "Failed" && !disrupted) {
      const k = `${job.metadata!.uid}/${pod.metadata!.annotations!["batch.kubernetes.io/job-completion-index"]}`
      this.failures.set(k, (this.failures.get(k) ?? 0) + 1)
    }
    this.reconcile(job.metadata!.namespace!, job.metadata!.name!)
  }

  // ---- what kubelets (and tests) report ----------------------------------------------------

  podStarted(podUid: string): void {
    const pod = this.pods.get(podUid)
    if (pod) pod.status = { phase: "Running", containerStatuses: [{ name: "worker", image: pod.spec!.containers[0]!.image!, imageID: "", ready: true, restartCount: 0, started: true, state: { running: { startedAt: now() as unknown as Date } } }] }
  }

  podWaiting(podUid: string, reason: string, message: string): void {
    const pod = this.pods.get(podUid)
    if (pod) pod.status = { phase: "Pending", containerStatuses: [{ name: "worker", image: pod.spec!.containers[0]!.image!, imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message } } }] }
  }

  podExited(podUid: string, exitCode: number, reason = exitCode === 0 ? "Completed" : "Error"): void {
    const pod = this.pods.get(podUid)
    if (!pod || pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed") return
    this.ended(pod, {
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      containerStatuses: [{ name: "worker", image: pod.spec!.containers[0]!.image!, imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode, reason } } }]
    })
  }

  /** The node evicts the pod (memory pressure, a drain): it fails, disrupted, and is replaced. */
  evict(pod: V1Pod): void {
    const stored = this.pods.get(pod.metadata!.uid!)
    if (!stored) return
    this.kubelet?.stop(stored)
    this.ended(stored, {
      phase: "Failed",
      reason: "Evicted",
      message: "The node was low on resource: memory.",
      conditions: [{ type: "DisruptionTarget", status: "True", reason: "TerminationByKubelet", message: "The node was low on resource: memory." }]
    })
  }

  /** `kubectl delete pod`: the pod is gone, its container stopped; the controller replaces it. */
  deletePod(pod: V1Pod): void {
    const stored = this.pods.get(pod.metadata!.uid!)
    if (!stored) return
    this.removePod(stored)
    const job = this.jobOf(stored)
    if (job) {
      const k = `${job.metadata!.uid}/${stored.metadata!.annotations!["batch.kubernetes.io/job-completion-index"]}`
      this.failures.set(k, (this.failures.get(k) ?? 0) + 1)
      this.reconcile(job.metadata!.namespace!, job.metadata!.name!)
    }
  }
}

/**
 * Kubernetes' `$(VAR)` expansion of command, args and env values: a defined variable is
 * replaced, `$$` is a literal `$`, anything else stays as written.
 */
export const expand = (text: string, vars: Readonly<Record<string, string>>): string =>
  text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => (name === undefined ? "$" : vars[name] ?? m))

/**
 * A kubelet whose containers are local processes: it resolves the container's environment
 * the way Kubernetes does (values from the pod's Secret, the completion index from the pod's
 * annotation), expands `$(VAR)` in command and args, and runs them in the container's
 * working directory with nothing else of this process's environment but PATH and HOME. A
 * Secret that does not exist (yet) keeps the pod waiting (CreateContainerConfigError).
 */
export const processKubelet = (): Kubelet & { readonly processes: Map<string, ChildProcess>; readonly output: Map<string, string> } => {
  const processes = new Map<string, ChildProcess>()
  const output = new Map<string, string>()
  const stopped = new Set<string>()
  const start = (cluster: FakeCluster, pod: V1Pod): void => {
    const podUid = pod.metadata!.uid!
    if (stopped.has(podUid) || !cluster.pods.has(podUid)) return
    const container = pod.spec!.containers[0]!
    const vars: Record<string, string> = {}
    for (const e of container.env ?? []) {
      if (e.value !== undefined) vars[e.name] = expand(e.value, vars)
      const ref = e.valueFrom?.secretKeyRef
      if (ref) {
        const secret = cluster.secrets.get(`${pod.metadata!.namespace}/${ref.name}`)
        const value = secret?.stringData?.[ref.key] ?? (secret?.data?.[ref.key] !== undefined ? Buffer.from(secret.data[ref.key]!, "base64").toString() : undefined)
        if (value === undefined) {
          cluster.podWaiting(podUid, "CreateContainerConfigError", `secret "${ref.name}" not found`)
          setTimeout(() => start(cluster, pod), 200)
          return
        }
        vars[e.name] = value
      }
      const field = e.valueFrom?.fieldRef?.fieldPath
      if (field) {
        const m = /^metadata\.annotations\['(.+)'\]$/.exec(field)
        vars[e.name] = m ? pod.metadata?.annotations?.[m[1]!] ?? "" : field === "metadata.name" ? pod.metadata?.name ?? "" : ""
      }
    }
    const argv = [...(container.command ?? []), ...(container.args ?? [])].map((a) => expand(a, vars))
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: container.workingDir,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/", ...vars },
      stdio: ["ignore", "pipe", "pipe"]
    })
    processes.set(podUid, child)
    output.set(podUid, "")
    const keep = (chunk: Buffer) => output.set(podUid, (output.get(podUid) ?? "") + chunk.toString())
    child.stdout?.on("data", keep)
    child.stderr?.on("data", keep)
    child.on("spawn", () => cluster.podStarted(podUid))
    child.on("error", (e) => { keep(Buffer.from(String(e))); cluster.podExited(podUid, 127) })
    child.on("exit", (code, signal) => {
      processes.delete(podUid)
      if (stopped.has(podUid)) return
      // As a container runtime reports it: 128 + the signal's number.
      cluster.podExited(podUid, code ?? 128 + (signal === "SIGKILL" ? 9 : signal === "SIGTERM" ? 15 : signal === "SIGABRT" ? 6 : 1))
    })
  }
  const stop = (pod: V1Pod): void => {
    const podUid = pod.metadata!.uid!
    stopped.add(podUid)
    const child = processes.get(podUid)
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const timer = setTimeout(() => child.kill("SIGKILL"), 2_000)
    child.once("exit", () => clearTimeout(timer))
    child.kill("SIGTERM")
  }
  return { start, stop, processes, output }
}
