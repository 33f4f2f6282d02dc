import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as KubernetesOptions from "../../../runtime/launcher/KubernetesOptions.ts"
import * as RunOptions from "../../../runtime/RunOptions.ts"

const context = { listen: "127.0.0.1:7070", chunkDirGiven: true, memoryBudgetBytes: 256e6, cwd: "/app", defaults: RunOptions.defaults.kubernetes }
const base = { image: "registry.example/pipeline:1", coordinatorAddress: "10.0.0.5:7070" }
const resolve = (options: KubernetesOptions.KubernetesOptions, more: Partial<typeof context> = {}) => KubernetesOptions.resolve(options, { ...context, ...more })

let saved: string | undefined
beforeEach(() => { saved = process.env.ZEPHYR_CHUNK_DIR; delete process.env.ZEPHYR_CHUNK_DIR })
afterEach(() => { if (saved === undefined) delete process.env.ZEPHYR_CHUNK_DIR; else process.env.ZEPHYR_CHUNK_DIR = saved })

describe("KubernetesOptions.resolve", () => {
  it("fills in the defaults: 1 CPU, the worker's heap + 256Mi, npx zephyr in the driver's directory", () => {
    expect(resolve(base)).toEqual({
      image: base.image,
      namespace: undefined,
      route: { kind: "address", address: "10.0.0.5:7070" },
      listen: "127.0.0.1:7070",
      cpu: "1",
      memory: "629Mi", // a 256 MB budget: a 373 MiB heap
      serviceAccount: undefined,
      imagePullPolicy: undefined,
      labels: {},
      volumes: [],
      command: ["npx", "--no", "--", "zephyr"],
      workingDir: "/app",
      ttlSecondsAfterFinished: 600
    })
  })

  it("takes maps or their command-line forms, and a command as words or JSON", () => {
    const r = resolve({
      ...base, cpu: 2, memory: "2Gi", labels: "team=data, tier=batch", volumes: "chunks:/mnt/chunks,inputs:/mnt/in",
      command: '["node", "/app/bin/zephyr.js"]', serviceAccount: "zephyr-worker", imagePullPolicy: "Always", namespace: "batch"
    })
    expect(r).toMatchObject({
      cpu: "2", memory: "2Gi", labels: { team: "data", tier: "batch" }, namespace: "batch", serviceAccount: "zephyr-worker", imagePullPolicy: "Always",
      volumes: [{ claim: "chunks", mountPath: "/mnt/chunks" }, { claim: "inputs", mountPath: "/mnt/in" }],
      command: ["node", "/app/bin/zephyr.js"]
    })
    expect(resolve({ ...base, command: "node /app/bin/zephyr.js" }).command).toEqual(["node", "/app/bin/zephyr.js"])
    expect(resolve({ image: "i", driverSelector: { app: "zephyr-driver" } }, { listen: "0.0.0.0:7070" }).route).toEqual({ kind: "service", selector: { app: "zephyr-driver" } })
  })

  const refused: ReadonlyArray<readonly [string, KubernetesOptions.KubernetesOptions, Partial<typeof context>, string]> = [
    ["no image", { coordinatorAddress: "10.0.0.5:7070" }, {}, "The kubernetes backend needs the image its worker pods run: kubernetes.image (--k8s-image)"],
    ["an image with a space", { ...base, image: "a b" }, {}, 'Invalid option kubernetes.image (--k8s-image): "a b"'],
    ["no chunk directory", base, { chunkDirGiven: false }, "The kubernetes backend needs --chunk-dir (option chunkDir)"],
    ["no way to reach the coordinator", { image: "i" }, {}, "kubernetes.coordinatorAddress (--k8s-coordinator-address HOST:PORT"],
    ["both ways to reach it", { ...base, driverSelector: "app=x" }, {}, "kubernetes.coordinatorAddress (--k8s-coordinator-address) and kubernetes.driverSelector (--k8s-driver-selector) exclude each other"],
    ["an address without a port", { ...base, coordinatorAddress: "10.0.0.5" }, {}, 'Invalid option kubernetes.coordinatorAddress (--k8s-coordinator-address): "10.0.0.5"'],
    ["a Service in front of a loopback listener", { image: "i", driverSelector: "app=x" }, {}, 'Invalid option listen (--listen): "127.0.0.1:7070" is this pod\'s loopback'],
    ["a selector that is not labels", { image: "i", driverSelector: "app" }, { listen: "0.0.0.0:7070" }, "Invalid option kubernetes.driverSelector (--k8s-driver-selector)"],
    ["a CPU that is not a quantity", { ...base, cpu: "two" }, {}, 'Invalid option kubernetes.cpu (--k8s-cpu): "two"; expected a positive CPU quantity'],
    ["no CPU", { ...base, cpu: "0" }, {}, "Invalid option kubernetes.cpu (--k8s-cpu)"],
    ["memory that is not a quantity", { ...base, memory: "1 GB" }, {}, 'Invalid option kubernetes.memory (--k8s-memory): "1 GB"'],
    ["memory below the worker's heap", { ...base, memory: "256Mi" }, {}, "expected at least 437Mi: a worker's V8 heap is 373 MiB"],
    ["a namespace with capitals", { ...base, namespace: "Batch" }, {}, 'Invalid option kubernetes.namespace (--k8s-namespace): "Batch"'],
    ["a bad pull policy", { ...base, imagePullPolicy: "Sometimes" as "Always" }, {}, 'Invalid option kubernetes.imagePullPolicy (--k8s-image-pull-policy): "Sometimes"'],
    ["a label key with a space", { ...base, labels: { "my team": "x" } }, {}, "Invalid option kubernetes.labels (--k8s-labels)"],
    ["a label zephyr sets", { ...base, labels: "app.kubernetes.io/managed-by=me" }, {}, "which zephyr sets (app.kubernetes.io/managed-by)"],
    ["a relative mount path", { ...base, volumes: "chunks:mnt" }, {}, 'absolute mount paths; "mnt" (of chunks) is not one'],
    ["an empty command", { ...base, command: [] }, {}, "Invalid option kubernetes.command (--k8s-command)"],
    ["a misspelt option", { ...base, memroy: "1Gi" } as KubernetesOptions.KubernetesOptions, {}, "Unknown option kubernetes.memroy"]
  ]
  for (const [what, options, more, message] of refused) {
    it(`refuses ${what}, naming the option`, () => {
      expect(() => resolve(options, more)).toThrow(expect.objectContaining({ _tag: "ZephyrPlanError", reason: "invalid-option", message: expect.stringContaining(message) }))
    })
  }

  it("reads Kubernetes quantities", () => {
    expect(KubernetesOptions.quantityValue("500m")).toBe(0.5)
    expect(KubernetesOptions.quantityValue("1.5Gi")).toBe(1.5 * 2 ** 30)
    expect(KubernetesOptions.quantityValue("1e3")).toBe(1000)
    expect(KubernetesOptions.quantityValue("2M")).toBe(2e6)
    for (const bad of ["", "-1", "1GB", "Gi", "1.2.3", "1 Gi"]) expect(KubernetesOptions.quantityValue(bad)).toBeUndefined()
  })
})

describe("RunOptions.resolve with backend kubernetes", () => {
  it("resolves the kubernetes options, with the run's listen address and memory budget", () => {
    const r = RunOptions.resolve({ backend: "kubernetes", chunkDir: "/mnt/chunks", listen: "0.0.0.0:7070", memoryBudget: "1GiB", kubernetes: { image: "i", driverSelector: "app=d" } }, "local")
    expect(r.kubernetes).toMatchObject({ image: "i", listen: "0.0.0.0:7070", memory: `${1024 + 128 + 256}Mi`, route: { kind: "service" } })
  })

  it("refuses kubernetes options for another backend", () => {
    expect(() => RunOptions.resolve({ backend: "local", kubernetes: { image: "i" } }, "local")).toThrow(expect.objectContaining({
      reason: "invalid-option", message: expect.stringContaining('Kubernetes options (kubernetes, --k8s-*) were given for backend "local": add --backend kubernetes')
    }))
  })
})
