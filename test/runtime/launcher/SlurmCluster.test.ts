import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"
import * as SlurmStates from "../../../runtime/launcher/SlurmStates.ts"
import * as SlurmCluster from "./SlurmCluster.ts"
import type { Total } from "./fixtures/slow-shards.ts"
import * as ZephyrCommand from "../../ZephyrCommand.ts"

// The slurm backend on a real Slurm: a single-node cluster of the test's own (munged,
// slurmctld, slurmd), `zephyr run --backend slurm` as a user types it, and a worker's array
// task cancelled with scancel in the middle of the run.
const missing = SlurmCluster.missingPrograms()
if (missing.length > 0) {
  process.stderr.write(`Slurm tests skipped: ${missing.join(", ")} not installed (Debian: apt-get install slurm-wlm munge; .ci/run does it).\n`)
}

const module = "test/runtime/launcher/fixtures/slow-shards.ts"
const byKey = (results: ReadonlyArray<Total>) => [...results].sort((a, b) => a.key - b.key)

describe.skipIf(missing.length > 0)("the slurm backend on a single-node Slurm cluster", () => {
  let cluster: SlurmCluster.Cluster
  let work: string
  beforeAll(async () => {
    cluster = await SlurmCluster.start()
    work = path.join(cluster.dir, "work")
    fs.mkdirSync(work, { mode: 0o700 })
  }, 90_000)
  afterAll(async () => { await cluster?.stop() }, 60_000)

  const drivers: Array<ChildProcess> = []
  afterEach(() => { for (const d of drivers.splice(0)) d.kill("SIGKILL") })

  /** `zephyr run --backend slurm` as a user runs it, with the cluster's SLURM_CONF. */
  const driver = (marks: string, args: ReadonlyArray<string>) => {
    fs.mkdirSync(marks, { recursive: true })
    return ZephyrCommand.start([
      "run", module, "--backend", "slurm", "--workers", "2", "--listen", "127.0.0.1:0",
      "--chunk-dir", path.join(work, "chunks"), "--arg", `dir=${marks}`, "--print-results", "--no-progress", "--no-check", ...args
    ], cluster.env, drivers)
  }

  const started = (marks: string) => fs.readdirSync(marks).filter((f) => f.startsWith("started-")).length
  const until = async (check: () => boolean | Promise<boolean>, what: string, ms = 60_000) => {
    const deadline = Date.now() + ms
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${cluster.logs()}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  /** The array job of the run (the only job this cluster has, until it ends). */
  const arrayJob = async () => (await cluster.run("squeue", ["--noheader", "--format=%F"])).trim().split("\n")[0] ?? ""
  /** Each task of the job with its state, from the controller's memory of it. */
  const tasks = async (job: string) =>
    (await cluster.run("squeue", [`--jobs=${job}`, "--array", "--states=all", "--noheader", "--format=%K %T"])).trim().split("\n").filter((l) => l.length > 0).sort()

  it("runs a pipeline on a job array of 2 workers, one task cancelled mid-run and requeued under the same worker id, with the output of a fault-free run", async () => {
    const faultFree = await Zephyr.runModule<Total>(module, { backend: "in-process", workers: 2, args: { dir: path.join(work, "fault-free"), shards: "32", sleepMs: "0" } })
    const marks = path.join(work, "marks-cancel")
    const gate = path.join(work, "gate-cancel")
    const run = driver(marks, [
      "--arg", "shards=32", "--arg", "sleepMs=200", "--arg", `gate=${gate}`, "--slurm-partition", "zephyr", "--slurm-time", "10m", "--slurm-cpus-per-worker", "1",
      "--slurm-mem-per-worker", "512MiB", "--slurm-sbatch-arg=--comment=zephyr-slurm-test", "--max-worker-restarts", "2"
    ])
    try {
      // Both workers hold a shard, waiting at the gate.
      await until(() => started(marks) >= 2 || run.child.exitCode !== null, "both workers to start a task")
      const job = await arrayJob()
      expect(job).toMatch(/^\d+$/)
      // The tasks got what the --slurm-* options asked for.
      expect((await cluster.run("squeue", [`--jobs=${job}`, "--array", "--noheader", "--format=%P %l %C %m %k"])).trim().split("\n"))
        .toEqual(["zephyr 10:00 1 512M zephyr-slurm-test", "zephyr 10:00 1 512M zephyr-slurm-test"])
      await cluster.run("scancel", [`${job}_1`])
      // squeue's CANCELLED made the worker dead at once (not the heartbeat timeout, 120 s here),
      // the launcher requeued its task, and the task's new process registered under the same id.
      await until(() => /worker \S+-w1 re-registered \(pid \d+ on /.test(run.stderr()) || run.child.exitCode !== null, "the requeued task's worker to register", 90_000)
      fs.writeFileSync(gate, "")
      expect(await run.exit).toBe(0)
      const results = run.stdout().trim().split("\n").map((l) => JSON.parse(l) as Total)
      expect(byKey(results)).toEqual(byKey(faultFree.results))
      expect(run.stderr()).toMatch(new RegExp(`worker \\S+-w1 exited \\(Slurm array task ${job}_1 CANCELLED`))
      expect(run.stderr()).toMatch(new RegExp(`worker (\\S+-w1) lost \\(Slurm array task ${job}_1 CANCELLED\\); requeued the task to restart it under the same id \\(1 of 2\\)`))
      expect(started(marks)).toBe(3) // the requeued task ran a new worker process
      // Nothing of the array is left: the workers, told to shut down when the run was
      // complete, ended on their own (COMPLETED) or were cancelled with the array.
      await until(async () => /^0 (COMPLETED|CANCELLED),1 (COMPLETED|CANCELLED)$/.test((await tasks(job)).join(",")), `every task of job ${job} to end`, 30_000)
      // The backend's own squeue and sacct calls, as this Slurm takes them (no accounting
      // storage here: sacct accepts its options, then says so).
      expect(SlurmStates.parseSqueue(await cluster.run("squeue", SlurmStates.squeueArgs(job))).map((t) => t.task).sort()).toEqual([0, 1])
      expect(await cluster.run("sacct", SlurmStates.sacctArgs(job)).then(() => "answered", (e: Error) => e.message)).toMatch(/^answered$|accounting storage is disabled/)
    } catch (e) {
      process.stderr.write(`driver stderr:\n${run.stderr()}\n${cluster.logs()}\n`)
      throw e
    }
  }, 240_000)

  it("cancels the job array when the driver is interrupted (Ctrl-C)", async () => {
    const marks = path.join(work, "marks-interrupt")
    const run = driver(marks, ["--arg", "shards=40", "--arg", "sleepMs=1000"])
    try {
      await until(() => started(marks) >= 1 || run.child.exitCode !== null, "a worker to start a task")
      const job = await arrayJob()
      expect(job).toMatch(/^\d+$/)
      run.child.kill("SIGINT")
      expect(await run.exit).toBe(130)
      // The driver's last act was scancel (the controller logs the request), and nothing of
      // the job is left to run: each task is cancelled, or ending as its worker saw the
      // coordinator go.
      expect(fs.readFileSync(path.join(cluster.dir, "log", "slurmctld.log"), "utf8")).toMatch(new RegExp(`REQUEST_KILL_JOB JobId=${job} `))
      const states = await tasks(job)
      expect(states.length).toBe(2)
      for (const line of states) expect(line).toMatch(/ (CANCELLED|COMPLETING|COMPLETED|FAILED)$/)
    } catch (e) {
      process.stderr.write(`driver stderr:\n${run.stderr()}\n${cluster.logs()}\n`)
      throw e
    }
  }, 180_000)
})
