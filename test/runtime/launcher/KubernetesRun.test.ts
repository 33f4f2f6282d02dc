import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"
import { expected, type Total } from "../../faults/fixtures/faulty.ts"
import type { Total as SlowTotal } from "./fixtures/slow-shards.ts"
import { waitFor } from "../../faults/Processes.ts"
import { useTempDirs } from "../../TempDirs.ts"
import * as FakeApiServer from "./FakeApiServer.ts"
import { FakeCluster, processKubelet } from "./FakeCluster.ts"

// `zephyr run --backend kubernetes` as a user runs it, with the real Kubernetes client, against
// a stand-in for the API server on 127.0.0.1 (FakeApiServer; CI has no cluster) whose
// "kubelet" runs each pod's container as a local process: the command, arguments, working
// directory and environment of the rendered pod spec, the token and the coordinator's
// address resolved from the Secret the driver created.

const tmp = useTempDirs("zephyr-k8s-run-")
const children: Array<ChildProcess> = []
const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of children.splice(0)) c.kill("SIGKILL")
  for (const f of cleanups.splice(0)) await f()
})

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as net.AddressInfo).port
    s.close(() => resolve(port))
  })
})

const setUp = async () => {
  const kubelet = processKubelet()
  const cluster = new FakeCluster(kubelet)
  const api = await FakeApiServer.start(cluster)
  cleanups.push(async () => {
    for (const p of kubelet.processes.values()) p.kill("SIGKILL")
    await api.close()
  })
  const dir = tmp()
  return { kubelet, cluster, api, dir, kubeconfig: api.kubeconfig(dir, "zephyr-test") }
}

/** The driver: `zephyr run MODULE --backend kubernetes ...` with the kubeconfig of the fake. */
const driver = async (module: string, kubeconfig: string, dir: string, extra: ReadonlyArray<string>) => {
  const port = await freePort()
  const { ZEPHYR_TOKEN: _, KUBECONFIG: __, ...env } = process.env
  const child = spawn(process.execPath, [
    "bin/zephyr.js", "run", module,
    "--backend", "kubernetes",
    "--k8s-image", "registry.example/zephyr-test:1",
    "--k8s-coordinator-address", `127.0.0.1:${port}`,
    "--listen", `127.0.0.1:${port}`,
    // The image's command; in the fake, this checkout's zephyr.
    "--k8s-command", `${process.execPath} ${path.resolve("bin/zephyr.js")}`,
    "--chunk-dir", path.join(dir, "chunks"),
    "--workers", "2",
    "--no-check", "--no-progress", "--print-results",
    ...extra
  ], { stdio: ["ignore", "pipe", "pipe"], env: { ...env, KUBECONFIG: kubeconfig, ZEPHYR_LOG_LEVEL: "info" } })
  children.push(child)
  let stdout = "", stderr = ""
  child.stdout!.on("data", (d) => { stdout += d })
  child.stderr!.on("data", (d) => { stderr += d })
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? 128 : null))))
  return { child, exit, port, stdout: () => stdout, stderr: () => stderr }
}

const results = (stdout: string) => stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Total).map(({ key, total }) => ({ key, total })).sort((a, b) => a.key - b.key)

/** The requests, as `METHOD resource`, without the repeated watching. */
const lifecycle = (api: FakeApiServer.FakeApiServer) =>
  api.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${r.path.split("/").slice(-2).join("/").replace(/zephyr-[\w-]+$/, "NAME")}`)

const allExited = (kubelet: ReturnType<typeof processKubelet>) => () => kubelet.processes.size === 0

describe("zephyr run --backend kubernetes (a stand-in API server, pods as local processes)", () => {
  it("runs a pipeline on worker pods that dial in with the Secret's token, then deletes the Job and the Secret", async () => {
    const { kubelet, cluster, api, dir, kubeconfig } = await setUp()
    const run = await driver("test/faults/fixtures/faulty.ts", kubeconfig, dir, ["--arg", `dir=${dir}`, "--arg", "fault=none"])
    expect(await run.exit, run.stderr()).toBe(0)
    expect(results(run.stdout())).toEqual(expected())

    expect(lifecycle(api)).toEqual([
      "POST zephyr-test/jobs", "POST zephyr-test/secrets", "PATCH jobs/NAME", "DELETE jobs/NAME", "DELETE secrets/NAME"
    ])
    const [createJob, createSecret, start] = api.requests.filter((r) => r.method !== "GET")
    // The namespace and the credentials come from the kubeconfig.
    expect(api.requests.every((r) => r.authorization === "Bearer fake-api-token")).toBe(true)
    expect(start!.contentType).toBe("application/json-patch+json")
    const job = createJob!.body as { metadata: { name: string }; spec: { suspend: boolean } }
    expect(job.spec.suspend).toBe(true)
    const secret = createSecret!.body as { metadata: { ownerReferences: Array<{ kind: string; name: string }> }; stringData: { token: string; coordinator: string } }
    expect(secret.metadata.ownerReferences).toMatchObject([{ kind: "Job", name: job.metadata.name }])
    expect(secret.stringData.coordinator).toBe(`127.0.0.1:${run.port}`)
    // Neither the token nor the address is in the Job, nor anywhere in the driver's output.
    expect(JSON.stringify(job)).not.toContain(secret.stringData.token)
    expect(JSON.stringify(job)).not.toContain(`127.0.0.1:${run.port}`)
    expect(run.stderr()).not.toContain(secret.stringData.token)
    const deleted = api.requests.find((r) => r.method === "DELETE" && r.path.includes("/jobs/"))
    expect(deleted!.query.propagationPolicy).toBe("Background")
    expect(api.requests.some((r) => r.path.endsWith("/pods") && r.query.labelSelector === `app.kubernetes.io/instance=${job.metadata.name}`)).toBe(true)

    expect(cluster.jobs.size + cluster.secrets.size + cluster.pods.size).toBe(0)
    await waitFor(allExited(kubelet), "the worker processes to exit")
  }, 180_000)

  it("a pod whose worker dies mid-task is a dead worker at once, long before a heartbeat timeout: same output", async () => {
    const { kubelet, cluster, api, dir, kubeconfig } = await setUp()
    const run = await driver("test/faults/fixtures/faulty.ts", kubeconfig, dir, [
      "--arg", `dir=${dir}`, "--arg", "fault=kill", "--heartbeat-timeout", "10m", "--max-worker-restarts", "0"
    ])
    expect(await run.exit, run.stderr()).toBe(0)
    expect(results(run.stdout())).toEqual(expected())
    // Item 3 ran twice: once in the pod that died, once elsewhere.
    expect(fs.readFileSync(path.join(dir, "attempts.log"), "utf8").trim().split("\n")).toHaveLength(2)
    expect(run.stderr()).toMatch(/worker \S+-w[01] exited \(pod zephyr-\S+ failed: container Error with exit code 137\)/)
    expect(lifecycle(api).slice(-2)).toEqual(["DELETE jobs/NAME", "DELETE secrets/NAME"])
    expect(cluster.jobs.size + cluster.secrets.size + cluster.pods.size).toBe(0)
    await waitFor(allExited(kubelet), "the worker processes to exit")
  }, 180_000)

  it("a pod whose worker dies is replaced under its index (backoffLimitPerIndex): its worker registers again under the same id, same output", async () => {
    const replacement = /worker (\S+-w[01]) (?:re-registered \(pid \d+ on |registered again from a new process \(pid \d+ on )/
    const { kubelet, cluster, dir, kubeconfig } = await setUp()
    const marks = path.join(dir, "marks")
    const gate = path.join(dir, "gate")
    fs.mkdirSync(marks)
    const module = "test/runtime/launcher/fixtures/slow-shards.ts"
    const faultFree = await Zephyr.runModule<SlowTotal>(module, { backend: "in-process", workers: 2, args: { dir: path.join(dir, "fault-free"), shards: "8", sleepMs: "0" } })
    const run = await driver(module, kubeconfig, dir, [
      "--arg", `dir=${marks}`, "--arg", "shards=8", "--arg", "sleepMs=100", "--arg", `gate=${gate}`, "--heartbeat-timeout", "10m", "--max-worker-restarts", "1"
    ])
    try {
      // Both pods' workers hold a shard, waiting at the gate; one of them dies.
      await waitFor(() => fs.readdirSync(marks).length >= 2 || run.child.exitCode !== null, "both workers to start a task", 120_000)
      const [victim] = [...kubelet.processes.values()]
      victim!.kill("SIGKILL")
      // The replacement may register before or after the launcher's pod poll (every 2 s) sees the
      // old pod's failure: a restart, or a takeover from a process the coordinator still thought alive.
      await waitFor(() => replacement.test(run.stderr()) || run.child.exitCode !== null, "the replacement pod's worker to register", 120_000)
      fs.writeFileSync(gate, "")
      expect(await run.exit, run.stderr()).toBe(0)
      const totals = run.stdout().trim().split("\n").map((l) => JSON.parse(l) as SlowTotal).sort((a, b) => a.key - b.key)
      expect(totals).toEqual([...faultFree.results].sort((a, b) => a.key - b.key))
      const [line, id] = replacement.exec(run.stderr())!
      const exited = new RegExp(`worker ${id} exited \\(pod zephyr-\\S+ failed: container Error with exit code 137\\)`)
      // A restart follows the old pod's death; after a takeover, that death is the old pod's, not the replacement's.
      if (line!.includes("re-registered")) expect(run.stderr()).toMatch(exited)
      else expect(run.stderr()).not.toMatch(exited)
      expect(fs.readdirSync(marks)).toHaveLength(3) // the replacement pod ran a new worker process
      expect(cluster.jobs.size + cluster.secrets.size + cluster.pods.size).toBe(0)
      await waitFor(allExited(kubelet), "the worker processes to exit")
    } catch (e) {
      process.stderr.write(`driver stderr:\n${run.stderr()}\n`)
      throw e
    }
  }, 240_000)

  it("Ctrl-C deletes the Job and the Secret, and so stops the pods", async () => {
    const { kubelet, cluster, api, dir, kubeconfig } = await setUp()
    const run = await driver("test/runtime/launcher/fixtures/blocking.ts", kubeconfig, dir, ["--arg", `dir=${dir}`])
    await waitFor(() => fs.existsSync(path.join(dir, "started-0")) && fs.existsSync(path.join(dir, "started-1")), "both tasks to start in their pods", 120_000)
    expect(kubelet.processes.size).toBe(2)
    run.child.kill("SIGINT")
    expect(await run.exit, run.stderr()).toBe(130)
    expect(lifecycle(api).slice(-2)).toEqual(["DELETE jobs/NAME", "DELETE secrets/NAME"])
    expect(cluster.jobs.size + cluster.secrets.size + cluster.pods.size).toBe(0)
    await waitFor(allExited(kubelet), "the worker processes to exit")
  }, 180_000)

  it("an API refusal fails the run with the server's answer and what to grant, and deletes what was created", async () => {
    const { cluster, api, dir, kubeconfig } = await setUp()
    cluster.refuse("createSecret", 403, "Forbidden", 'secrets is forbidden: User "alice" cannot create resource "secrets" in API group "" in the namespace "zephyr-test"')
    const run = await driver("test/faults/fixtures/faulty.ts", kubeconfig, dir, ["--arg", `dir=${dir}`])
    expect(await run.exit).toBe(1)
    expect(run.stderr()).toContain("in namespace zephyr-test: the Kubernetes API answered 403 Forbidden: secrets is forbidden: User \"alice\" cannot create resource \"secrets\"")
    expect(run.stderr()).toContain("examples/kubernetes/rbac.yaml")
    expect(lifecycle(api)).toEqual(["POST zephyr-test/jobs", "POST zephyr-test/secrets", "DELETE jobs/NAME", "DELETE secrets/NAME"])
    expect(cluster.jobs.size + cluster.pods.size).toBe(0)
    expect(run.stdout()).toBe("")
  }, 180_000)

  it("without a kubeconfig or a pod's service account, says where it looked", async () => {
    const dir = tmp()
    const { ZEPHYR_TOKEN: _, KUBECONFIG: __, ...env } = process.env
    const child = spawn(process.execPath, [
      "bin/zephyr.js", "run", "test/faults/fixtures/faulty.ts", "--backend", "kubernetes", "--k8s-image", "i:1",
      "--k8s-coordinator-address", "10.0.0.5:7070", "--chunk-dir", path.join(dir, "chunks"), "--no-check", "--max-execution-retries", "0"
    ], { stdio: ["ignore", "ignore", "pipe"], env: { ...env, HOME: dir } })
    children.push(child)
    let stderr = ""
    child.stderr!.on("data", (d) => { stderr += d })
    expect(await new Promise((resolve) => child.on("exit", resolve))).toBe(1)
    expect(stderr).toContain("The kubernetes backend found no cluster to talk to: set $KUBECONFIG, create ~/.kube/config")
  }, 120_000)
})
