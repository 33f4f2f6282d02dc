import * as path from "node:path"
import { ZephyrPlanError } from "../../plan/Errors.ts"
import * as Transport from "../../rpc/Transport.ts"
import { heapMegabytes } from "./WorkerProcesses.ts"

/**
 * The options of backend "kubernetes" (`kubernetes: { ... }` in the run options, `--k8s-*` on
 * the command line), checked before anything is created in the cluster: every error names
 * the option and its flag. Plain data only: the Kubernetes client loads when a pool starts.
 */
export interface KubernetesOptions {
  /**
   * The image worker pods run (required): it holds this project, with zephyr installed and
   * built, at the path the driver runs it from (the pipeline module's path must be the same).
   */
  readonly image?: string | undefined
  /** Namespace of the Job, its Secret and Service (default: the kubeconfig context's, in a pod its own). */
  readonly namespace?: string | undefined
  /**
   * HOST:PORT at which pods reach the coordinator (the driver's `listen` address as seen
   * from the cluster: a node address, a load balancer, a tunnel). Either this or `driverSelector`.
   */
  readonly coordinatorAddress?: string | undefined
  /**
   * The labels of the driver's own pod, when the driver runs in the cluster: a Service
   * selecting them stands in front of the coordinator and pods dial the Service. Either
   * this or `coordinatorAddress`. A map, or "k=v,k2=v2".
   */
  readonly driverSelector?: Readonly<Record<string, string>> | string | undefined
  /** CPU per worker pod, requested and limited: "1", "500m", 2 (default 1). */
  readonly cpu?: string | number | undefined
  /** Memory per worker pod, requested and limited: "1Gi", "768Mi" (default: the worker's V8 heap + 256Mi). */
  readonly memory?: string | undefined
  /** The service account worker pods run as (they never call the Kubernetes API themselves). */
  readonly serviceAccount?: string | undefined
  readonly imagePullPolicy?: "Always" | "IfNotPresent" | "Never" | undefined
  /** Extra labels on the Job, its pods, Secret and Service. A map, or "k=v,k2=v2". */
  readonly labels?: Readonly<Record<string, string>> | string | undefined
  /**
   * PersistentVolumeClaims every worker pod mounts, claim name → mount path, e.g. the
   * shared chunk directory's. A map, or "claim:/path,claim2:/path2".
   */
  readonly volumes?: Readonly<Record<string, string>> | string | undefined
  /**
   * What starts the `zephyr` command in the image; `worker --coordinator ...` is appended
   * (default `npx --no -- zephyr`, which never installs). An array, a JSON array, or words.
   */
  readonly command?: ReadonlyArray<string> | string | undefined
  /** The worker's working directory (default: the driver's, so relative input paths agree). */
  readonly workingDir?: string | undefined
}

export type ImagePullPolicy = "Always" | "IfNotPresent" | "Never"

/** How pods reach the coordinator. */
export type CoordinatorRoute =
  | { readonly kind: "address"; readonly address: string }
  | { readonly kind: "service"; readonly selector: Readonly<Record<string, string>> }

export interface Resolved {
  readonly image: string
  readonly namespace: string | undefined
  readonly route: CoordinatorRoute
  /** HOST:PORT the coordinator listens on (the run's `listen`). */
  readonly listen: string
  readonly cpu: string
  readonly memory: string
  readonly serviceAccount: string | undefined
  readonly imagePullPolicy: ImagePullPolicy | undefined
  readonly labels: Readonly<Record<string, string>>
  readonly volumes: ReadonlyArray<{ readonly claim: string; readonly mountPath: string }>
  readonly command: ReadonlyArray<string>
  readonly workingDir: string
  readonly ttlSecondsAfterFinished: number
}

/** The defaults of these options (RunOptions.defaults.kubernetes holds them, with the rest). */
export interface Defaults {
  readonly cpu: string
  /** Memory above the worker's V8 heap, for the engine's buffers and Node itself. */
  readonly memoryHeadroomMiB: number
  /** The least memory above the heap that is accepted. */
  readonly minMemoryHeadroomMiB: number
  readonly command: ReadonlyArray<string>
  /** A finished Job the driver could not delete (killed) is removed by Kubernetes after this. */
  readonly ttlSecondsAfterFinished: number
}

export interface Context {
  /** The run's listen address, HOST:PORT. */
  readonly listen: string
  /** Whether the user named a chunk directory (option, flag or $ZEPHYR_CHUNK_DIR). */
  readonly chunkDirGiven: boolean
  readonly memoryBudgetBytes: number
  readonly cwd: string
  readonly defaults: Defaults
}

/** The flag each option has on `zephyr run`, for messages. */
export const flags: Record<keyof KubernetesOptions, string> = {
  image: "--k8s-image",
  namespace: "--k8s-namespace",
  coordinatorAddress: "--k8s-coordinator-address",
  driverSelector: "--k8s-driver-selector",
  cpu: "--k8s-cpu",
  memory: "--k8s-memory",
  serviceAccount: "--k8s-service-account",
  imagePullPolicy: "--k8s-image-pull-policy",
  labels: "--k8s-labels",
  volumes: "--k8s-volumes",
  command: "--k8s-command",
  workingDir: "--k8s-working-dir"
}

const invalid = (message: string): never => {
  throw new ZephyrPlanError({ reason: "invalid-option", message })
}

const bad = (option: keyof KubernetesOptions, value: unknown, expected: string): never =>
  invalid(`Invalid option kubernetes.${option} (${flags[option]}): ${JSON.stringify(value)}; expected ${expected}.`)

// Kubernetes' own name rules (k8s.io/apimachinery validation).
const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const labelName = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/

export const isDnsLabel = (s: string): boolean => s.length <= 63 && dnsLabel.test(s)
export const isDnsSubdomain = (s: string): boolean => s.length <= 253 && dnsSubdomain.test(s)
export const isLabelValue = (s: string): boolean => s === "" || (s.length <= 63 && labelName.test(s))
export const isLabelKey = (s: string): boolean => {
  const slash = s.lastIndexOf("/")
  const prefix = slash < 0 ? undefined : s.slice(0, slash)
  const name = slash < 0 ? s : s.slice(slash + 1)
  return (prefix === undefined || isDnsSubdomain(prefix)) && name.length <= 63 && labelName.test(name)
}

/** The labels zephyr sets on what it creates; a user's labels may not replace them. */
export const ownLabels = ["app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by"]

const suffixes: Record<string, number> = {
  "": 1, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60
}

/**
 * The value of a Kubernetes quantity ("500m", "1.5", "2Gi", "1e9"), or undefined when the
 * text is not one. Signs are refused: nothing here may be negative.
 */
export const quantityValue = (text: string): number | undefined => {
  const m = /^(\d+(?:\.\d*)?|\.\d+)(?:[eE]([-+]?\d+)|(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/.exec(text)
  if (!m) return undefined
  const n = Number(m[1])
  return m[2] !== undefined ? n * 10 ** Number(m[2]) : n * suffixes[m[3] ?? ""]!
}

/** "k=v,k2=v2" (or a map) as a map; `separator` is "=" for labels, ":" for volumes. */
const pairs = (option: keyof KubernetesOptions, value: Readonly<Record<string, string>> | string, separator: string, example: string): Record<string, string> => {
  if (typeof value !== "string") {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return bad(option, value, `a map or ${JSON.stringify(example)}`)
    for (const v of Object.values(value)) if (typeof v !== "string") bad(option, value, `a map of strings or ${JSON.stringify(example)}`)
    return { ...value }
  }
  const out: Record<string, string> = {}
  for (const item of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    const at = item.indexOf(separator)
    if (at <= 0) return bad(option, value, `comma-separated pairs such as ${JSON.stringify(example)}`)
    const key = item.slice(0, at).trim()
    if (key in out) return bad(option, value, `each key once (${JSON.stringify(key)} is repeated)`)
    out[key] = item.slice(at + 1).trim()
  }
  return out
}

const labelMap = (option: "driverSelector" | "labels", value: Readonly<Record<string, string>> | string): Record<string, string> => {
  const map = pairs(option, value, "=", "team=data,tier=batch")
  for (const [k, v] of Object.entries(map)) {
    if (!isLabelKey(k)) bad(option, value, `label keys of at most 63 letters, digits, '-', '_' or '.' (optionally after a DNS prefix and '/'); ${JSON.stringify(k)} is not one`)
    if (!isLabelValue(v)) bad(option, value, `label values of at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit; ${JSON.stringify(v)} (of ${k}) is not one`)
  }
  return map
}

const commandOf = (value: ReadonlyArray<string> | string): ReadonlyArray<string> => {
  let words: unknown = value
  if (typeof value === "string") {
    if (value.trim().startsWith("[")) {
      try {
        words = JSON.parse(value)
      } catch {
        return bad("command", value, 'a JSON array of strings, e.g. ["node", "/app/bin/zephyr.js"], or words separated by spaces')
      }
    } else {
      words = value.trim().split(/\s+/).filter(Boolean)
    }
  }
  if (!Array.isArray(words) || words.length === 0 || !words.every((w) => typeof w === "string" && w.length > 0)) {
    return bad("command", value, 'a non-empty list of words, e.g. "npx --no -- zephyr" or "node /app/bin/zephyr.js"')
  }
  return words as ReadonlyArray<string>
}

const address = (text: string): { readonly host: string; readonly port: number } | undefined => {
  try {
    const a = Transport.parseAddress(text)
    return a.host.length > 0 && !/\s/.test(a.host) ? a : undefined
  } catch {
    return undefined
  }
}

/** Checks the options of backend "kubernetes" and fills in their defaults. */
export const resolve = (options: KubernetesOptions | undefined, context: Context): Resolved => {
  const o: KubernetesOptions = options ?? {}
  if (typeof o !== "object" || o === null) invalid(`Invalid option kubernetes: ${JSON.stringify(o)}; expected an object of Kubernetes options.`)
  const unknown = Object.keys(o).filter((k) => !(k in flags))
  if (unknown.length > 0) invalid(`Unknown option kubernetes.${unknown[0]}: the kubernetes backend's options are ${Object.keys(flags).join(", ")}.`)

  if (o.image === undefined || o.image === "") {
    invalid(`The kubernetes backend needs the image its worker pods run: kubernetes.image (${flags.image}), one that holds this project, with zephyr installed and built, at ${context.cwd} (the pipeline module's path must be the same as the driver's).`)
  }
  const image = o.image!
  if (typeof image !== "string" || /\s/.test(image)) bad("image", image, "an image reference such as registry.example.com/team/pipeline:1.2 (no spaces)")

  if (!context.chunkDirGiven) {
    invalid(`The kubernetes backend needs --chunk-dir (option chunkDir): a directory that the driver and every worker pod reach at the same path, such as a ReadWriteMany volume mounted with kubernetes.volumes (${flags.volumes} CLAIM:PATH); a temp dir on the driver's machine is invisible to the pods.`)
  }

  if (o.namespace !== undefined && (typeof o.namespace !== "string" || !isDnsLabel(o.namespace))) {
    bad("namespace", o.namespace, "a namespace name: at most 63 lowercase letters, digits or '-', starting and ending with a letter or digit")
  }

  const listen = address(context.listen)
  if (!listen) return invalid(`Invalid option listen (--listen): ${JSON.stringify(context.listen)}; expected HOST:PORT, e.g. 0.0.0.0:7070.`)
  if (o.coordinatorAddress !== undefined && o.driverSelector !== undefined) {
    invalid(`Options kubernetes.coordinatorAddress (${flags.coordinatorAddress}) and kubernetes.driverSelector (${flags.driverSelector}) exclude each other: give the address pods dial, or, when the driver runs in a pod, the labels of that pod (a Service selects it).`)
  }
  let route: CoordinatorRoute
  if (o.coordinatorAddress !== undefined) {
    const a = typeof o.coordinatorAddress === "string" ? address(o.coordinatorAddress) : undefined
    if (!a || a.port === 0) return bad("coordinatorAddress", o.coordinatorAddress, "HOST:PORT at which pods reach this driver's --listen address, e.g. 10.0.0.5:7070")
    route = { kind: "address", address: o.coordinatorAddress.trim() }
  } else if (o.driverSelector !== undefined) {
    const selector = labelMap("driverSelector", o.driverSelector)
    if (Object.keys(selector).length === 0) bad("driverSelector", o.driverSelector, "at least one label of the driver's pod, e.g. app=zephyr-driver")
    if (Transport.isLoopback(listen.host)) {
      invalid(`Invalid option listen (--listen): ${JSON.stringify(context.listen)} is this pod's loopback, which the Service in front of the driver (kubernetes.driverSelector) cannot reach: listen on the pod's network, e.g. --listen 0.0.0.0:7070.`)
    }
    route = { kind: "service", selector }
  } else {
    return invalid(`The kubernetes backend needs to know how worker pods reach the coordinator: kubernetes.coordinatorAddress (${flags.coordinatorAddress} HOST:PORT, the address of this driver's --listen as pods see it) or, when the driver runs in a pod, kubernetes.driverSelector (${flags.driverSelector} k=v, that pod's labels; a Service is created in front of it).`)
  }

  const cpu = o.cpu === undefined ? context.defaults.cpu : String(o.cpu)
  const cpuValue = quantityValue(cpu)
  if (cpuValue === undefined || cpuValue <= 0) bad("cpu", o.cpu, 'a positive CPU quantity such as "1", "500m" or "2.5"')

  const heapMiB = heapMegabytes(context.memoryBudgetBytes)
  const memory = o.memory ?? `${heapMiB + context.defaults.memoryHeadroomMiB}Mi`
  const memoryBytes = typeof memory === "string" ? quantityValue(memory) : undefined
  if (memoryBytes === undefined || memoryBytes <= 0) return bad("memory", o.memory, 'a memory quantity such as "1Gi" or "768Mi"')
  const least = (heapMiB + context.defaults.minMemoryHeadroomMiB) * 2 ** 20
  if (memoryBytes < least) {
    bad("memory", o.memory, `at least ${Math.ceil(least / 2 ** 20)}Mi: a worker's V8 heap is ${heapMiB} MiB (memoryBudget + 128 MiB), and Node needs room beyond it; give more memory or a smaller --memory-budget`)
  }

  if (o.serviceAccount !== undefined && (typeof o.serviceAccount !== "string" || !isDnsSubdomain(o.serviceAccount))) {
    bad("serviceAccount", o.serviceAccount, "a service account name (lowercase letters, digits, '-' and '.')")
  }
  if (o.imagePullPolicy !== undefined && !["Always", "IfNotPresent", "Never"].includes(o.imagePullPolicy)) {
    bad("imagePullPolicy", o.imagePullPolicy, '"Always", "IfNotPresent" or "Never"')
  }

  const labels = o.labels === undefined ? {} : labelMap("labels", o.labels)
  const taken = Object.keys(labels).find((k) => ownLabels.includes(k))
  if (taken) bad("labels", o.labels, `labels other than ${ownLabels.join(", ")}, which zephyr sets (${taken})`)

  const volumes: Array<{ claim: string; mountPath: string }> = []
  if (o.volumes !== undefined) {
    for (const [claim, mountPath] of Object.entries(pairs("volumes", o.volumes, ":", "chunks:/mnt/chunks"))) {
      if (!isDnsSubdomain(claim)) bad("volumes", o.volumes, `PersistentVolumeClaim names (lowercase letters, digits, '-' and '.'); ${JSON.stringify(claim)} is not one`)
      if (!path.posix.isAbsolute(mountPath) || mountPath.includes(":")) bad("volumes", o.volumes, `absolute mount paths; ${JSON.stringify(mountPath)} (of ${claim}) is not one`)
      if (volumes.some((v) => v.mountPath === mountPath)) bad("volumes", o.volumes, `one claim per mount path; ${mountPath} is repeated`)
      volumes.push({ claim, mountPath })
    }
  }

  const command = o.command === undefined ? context.defaults.command : commandOf(o.command)
  const workingDir = o.workingDir ?? context.cwd
  if (typeof workingDir !== "string" || !path.posix.isAbsolute(workingDir)) bad("workingDir", o.workingDir, "an absolute path in the image")

  return {
    image,
    namespace: o.namespace,
    route,
    listen: context.listen,
    cpu,
    memory,
    serviceAccount: o.serviceAccount,
    imagePullPolicy: o.imagePullPolicy,
    labels,
    volumes,
    command,
    workingDir,
    ttlSecondsAfterFinished: context.defaults.ttlSecondsAfterFinished
  }
}
