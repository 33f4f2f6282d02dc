import { createHash } from "node:crypto"
import type { V1EnvVar, V1Job, V1OwnerReference, V1Secret, V1Service } from "@kubernetes/client-node"
import * as RuntimeV8Flags from "../RuntimeV8Flags.ts"
import type * as KubernetesOptions from "./KubernetesOptions.ts"

/**
 * The objects the kubernetes backend creates, rendered from its options as the client
 * library's typed models, by pure functions (golden-tested, validated against the schema):
 * an Indexed Job of worker pods, the Secret holding the coordinator's address and token,
 * and, when the driver runs in the cluster, a Service in front of the driver's pod.
 */

/** One pool of worker pods (one execution attempt). */
export interface Pool {
  /** The name of the Job, its Secret and Service (`objectName`). */
  readonly name: string
  /** The engine's pool name; worker ids are `<poolName>-w<index>`. */
  readonly poolName: string
  readonly namespace: string
  readonly workers: number
  /** Failed pods of one index replaced before the index fails (the Job's backoffLimitPerIndex). */
  readonly maxWorkerRestarts: number
  /** The port the coordinator listens on (the Service's port). */
  readonly port: number
  /** The worker's V8 heap sizes for NODE_OPTIONS (WorkerProcesses.heapFlags). */
  readonly heapFlags: ReadonlyArray<string>
  /** Its heap's growth (WorkerProcesses.heapGrowingPercent), in the environment (NODE_OPTIONS refuses it): set by `zephyr worker` itself (RuntimeV8Flags). */
  readonly heapGrowingPercent?: number | undefined
}

/** Where the Secret keeps each value; the pods read them into these variables. */
export const secretKeys = { coordinator: "coordinator", token: "token" } as const
export const env = { coordinator: "ZEPHYR_COORDINATOR", token: "ZEPHYR_TOKEN", index: "ZEPHYR_WORKER_INDEX", host: "ZEPHYR_WORKER_HOST" } as const

/** The annotation the Job controller puts the pod's completion index in. */
export const indexAnnotation = "batch.kubernetes.io/job-completion-index"

export const containerName = "worker"

/**
 * A pod's hostname is `<job>-<index>` and must stay within 63 characters, and the Job's
 * name is a label value of its pods: 52 leaves room for any index.
 */
const maxNameLength = 52

/**
 * The Job's (and its Secret's and Service's) name for a pool: `zephyr-<pool name>` in
 * lowercase. A pool name that had to be changed to fit (upper case, `_`, length) gets a
 * hash of the original, so two pools never share a name.
 */
export const objectName = (poolName: string): string => {
  const slug = poolName.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/-+/g, "-").replace(/^-+|-+$/g, "")
  const plain = `zephyr-${slug}`
  if (plain === `zephyr-${poolName}` && plain.length <= maxNameLength) return plain
  const hash = createHash("sha256").update(poolName).digest("hex").slice(0, 8)
  return `${plain.slice(0, maxNameLength - hash.length - 1).replace(/-+$/, "")}-${hash}`
}

/** The labels on every object of a pool; `instance` selects its pods. */
export const labels = (options: KubernetesOptions.Resolved, pool: Pool): Record<string, string> => ({
  ...options.labels,
  "app.kubernetes.io/name": "zephyr",
  "app.kubernetes.io/component": "worker",
  "app.kubernetes.io/instance": pool.name,
  "app.kubernetes.io/managed-by": "zephyr"
})

/** The label selector of a pool's pods. */
export const podSelector = (pool: Pick<Pool, "name">): string => `app.kubernetes.io/instance=${pool.name}`

/** The worker id of the pod with completion index `index`. */
export const workerId = (poolName: string, index: number): string => `${poolName}-w${index}`

const secretEnv = (name: string, secret: string, key: string): V1EnvVar => ({ name, valueFrom: { secretKeyRef: { name: secret, key } } })

/**
 * The Indexed Job: one pod per worker, each running `zephyr worker` with the coordinator's
 * address and the token from the Secret (environment variables; the address reaches the
 * command line through Kubernetes' `$(VAR)` expansion, so neither is in the spec). It is
 * created suspended: the Secret, which names the Job its owner, must exist before a pod
 * starts. A failed pod is replaced under the same index (the same worker id, so the
 * coordinator re-queues what it held) up to `maxWorkerRestarts` times; evictions and
 * preemptions (DisruptionTarget) do not count. A pod is replaced only once the failed one
 * is gone, so one worker id never runs twice at once.
 */
export const job = (options: KubernetesOptions.Resolved, pool: Pool): V1Job => {
  const objectLabels = labels(options, pool)
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: pool.name, namespace: pool.namespace, labels: objectLabels },
    spec: {
      completionMode: "Indexed",
      completions: pool.workers,
      parallelism: pool.workers,
      backoffLimitPerIndex: pool.maxWorkerRestarts,
      podFailurePolicy: { rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] }] },
      podReplacementPolicy: "Failed",
      ttlSecondsAfterFinished: options.ttlSecondsAfterFinished,
      suspend: true,
      template: {
        metadata: { labels: objectLabels },
        spec: {
          restartPolicy: "Never",
          // Workers never call the Kubernetes API.
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          ...(options.serviceAccount !== undefined ? { serviceAccountName: options.serviceAccount } : {}),
          securityContext: { seccompProfile: { type: "RuntimeDefault" } },
          containers: [{
            name: containerName,
            image: options.image,
            ...(options.imagePullPolicy !== undefined ? { imagePullPolicy: options.imagePullPolicy } : {}),
            command: [...options.command],
            args: ["worker", "--coordinator", `$(${env.coordinator})`, "--worker-id", `${pool.poolName}-w$(${env.index})`],
            workingDir: options.workingDir,
            env: [
              secretEnv(env.coordinator, pool.name, secretKeys.coordinator),
              secretEnv(env.token, pool.name, secretKeys.token),
              { name: env.index, valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${indexAnnotation}']` } } },
              // The worker registers as running on its pod (a pod's host name is only job-index), so a
              // failed pod seen after its replacement registered is told apart from the replacement.
              { name: env.host, valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "NODE_OPTIONS", value: pool.heapFlags.join(" ") },
              ...(pool.heapGrowingPercent !== undefined ? [{ name: RuntimeV8Flags.HEAP_GROWING_PERCENT_ENV, value: String(pool.heapGrowingPercent) }] : [])
            ],
            resources: {
              requests: { cpu: options.cpu, memory: options.memory },
              limits: { cpu: options.cpu, memory: options.memory }
            },
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
            ...(options.volumes.length > 0 ? { volumeMounts: options.volumes.map((v, i) => ({ name: `volume-${i}`, mountPath: v.mountPath })) } : {})
          }],
          ...(options.volumes.length > 0 ? { volumes: options.volumes.map((v, i) => ({ name: `volume-${i}`, persistentVolumeClaim: { claimName: v.claim } })) } : {})
        }
      }
    }
  }
}

/** The created Job as the owner of the Secret and Service: deleting the Job deletes them. */
export const ownerReference = (created: V1Job): V1OwnerReference => ({
  apiVersion: "batch/v1",
  kind: "Job",
  name: created.metadata?.name ?? "",
  uid: created.metadata?.uid ?? ""
})

/** The coordinator's address and the token, for the pods' environment only. */
export const secret = (options: KubernetesOptions.Resolved, pool: Pool, owner: V1OwnerReference, values: { readonly coordinator: string; readonly token: string }): V1Secret => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: pool.name, namespace: pool.namespace, labels: labels(options, pool), ownerReferences: [owner] },
  type: "Opaque",
  immutable: true,
  stringData: { [secretKeys.coordinator]: values.coordinator, [secretKeys.token]: values.token }
})

/** The port's name on the Service. */
export const servicePortName = "coordinator"

/**
 * When the driver runs in a pod: a Service selecting that pod (by the labels the user gave),
 * so worker pods dial `<name>.<namespace>.svc:<port>`.
 */
export const service = (options: KubernetesOptions.Resolved, pool: Pool, owner: V1OwnerReference): V1Service | undefined =>
  options.route.kind !== "service" ? undefined : {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: pool.name, namespace: pool.namespace, labels: labels(options, pool), ownerReferences: [owner] },
    spec: {
      type: "ClusterIP",
      selector: { ...options.route.selector },
      ports: [{ name: servicePortName, protocol: "TCP", port: pool.port, targetPort: pool.port }]
    }
  }

/** The address pods dial: the user's, or the Service's cluster DNS name. */
export const coordinatorAddress = (options: KubernetesOptions.Resolved, pool: Pool): string =>
  options.route.kind === "address" ? options.route.address : `${pool.name}.${pool.namespace}.svc:${pool.port}`
