import type { V1Job, V1Secret, V1Service } from "@kubernetes/client-node"
import * as KubernetesObjects from "../../../runtime/launcher/KubernetesObjects.ts"
import * as KubernetesOptions from "../../../runtime/launcher/KubernetesOptions.ts"
import * as RunOptions from "../../../runtime/RunOptions.ts"

/** The objects the kubernetes backend renders for two representative runs, for golden and schema tests. */

const resolve = (options: KubernetesOptions.KubernetesOptions, listen: string) =>
  KubernetesOptions.resolve(options, { listen, chunkDirGiven: true, memoryBudgetBytes: 256e6, cwd: "/app", defaults: RunOptions.defaults.kubernetes })

/** A driver outside the cluster, every option left to its default. */
export const byAddress = resolve({ image: "registry.example.com/team/pipeline:1.0", coordinatorAddress: "10.0.0.5:7070" }, "0.0.0.0:7070")

/** A driver in a pod, every option given. */
export const byService = resolve({
  image: "registry.example.com/team/pipeline:1.0",
  namespace: "batch",
  driverSelector: "app.kubernetes.io/instance=zephyr-wordcount",
  cpu: "2",
  memory: "2Gi",
  serviceAccount: "zephyr-worker",
  imagePullPolicy: "IfNotPresent",
  labels: "team=data,cost-center=ml",
  volumes: "zephyr-shared:/shared",
  command: "node /app/bin/zephyr.js",
  workingDir: "/app"
}, "0.0.0.0:7070")

export const pool = (namespace: string): KubernetesObjects.Pool => ({
  name: KubernetesObjects.objectName("wordcount-1a2b3c4d-mx2q1iov6a65-a1"),
  poolName: "wordcount-1a2b3c4d-mx2q1iov6a65-a1",
  namespace,
  workers: 8,
  maxWorkerRestarts: 3,
  port: 7070,
  heapFlags: ["--max-old-space-size=373"],
  heapGrowingPercent: 281
})

const owner = (namespace: string) => KubernetesObjects.ownerReference({ metadata: { name: pool(namespace).name, uid: "0b7c4a2e-5d1f-4e8a-9c3b-2f6d8e1a4b5c" } })

export const token = "TOKEN-FOR-TESTS-ONLY"

export const rendered = (): Record<string, V1Job | V1Secret | V1Service> => ({
  "job-by-address": KubernetesObjects.job(byAddress, pool("default")),
  "secret-by-address": KubernetesObjects.secret(byAddress, pool("default"), owner("default"), { coordinator: KubernetesObjects.coordinatorAddress(byAddress, pool("default")), token }),
  "job-by-service": KubernetesObjects.job(byService, pool("batch")),
  "secret-by-service": KubernetesObjects.secret(byService, pool("batch"), owner("batch"), { coordinator: KubernetesObjects.coordinatorAddress(byService, pool("batch")), token }),
  "service-by-service": KubernetesObjects.service(byService, pool("batch"), owner("batch"))!
})
