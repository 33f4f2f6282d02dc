import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

/**
 * A single-node Slurm cluster of its own, for tests: Debian's munged, slurmctld and slurmd
 * run in the foreground as this test's children, with every file (config, munge key and
 * socket, state, spool, pid and log files) in one temp dir and the daemons on ports picked
 * free. Slurm's commands reach it through `SLURM_CONF` (`env`), which the slurm backend
 * honours as every Slurm command does. `stop` cancels its jobs, stops the daemons and
 * removes the dir; so does this process's exit, if a test never got there.
 */

const programs = ["munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scancel", "squeue", "sacct", "sinfo"] as const
type Program = (typeof programs)[number]

/** Daemons live in sbin, which a user's PATH may lack. */
const searchPath = (): Array<string> => [...(process.env.PATH ?? "").split(path.delimiter), "/usr/sbin", "/sbin", "/usr/local/sbin"].filter((d) => d.length > 0)

const locate = (program: string): string | undefined => {
  for (const dir of searchPath()) {
    const file = path.join(dir, program)
    try {
      fs.accessSync(file, fs.constants.X_OK)
      return file
    } catch {
      // not here
    }
  }
  return undefined
}

/** The programs of Debian's slurm-wlm and munge packages this machine lacks. */
export const missingPrograms = (): Array<string> => programs.filter((p) => locate(p) === undefined)

const freePorts = async (count: number): Promise<Array<number>> => {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer()
    s.on("error", reject)
    s.listen(0, "127.0.0.1", () => resolve(s))
  })))
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
  return ports
}

const waitFor = async (check: () => boolean | Promise<boolean>, what: string, ms: number, diagnostics: () => string): Promise<void> => {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${diagnostics()}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

export interface Cluster {
  readonly dir: string
  /** `SLURM_CONF` for every Slurm command meant for this cluster. */
  readonly env: Readonly<Record<string, string>>
  /** Runs a Slurm command against this cluster; its stdout. */
  readonly run: (program: "sbatch" | "scancel" | "squeue" | "sacct" | "sinfo", args: ReadonlyArray<string>) => Promise<string>
  /** The daemons' log files, for a failure's message. */
  readonly logs: () => string
  readonly stop: () => Promise<void>
}

const stopChild = (child: ChildProcess, ms = 10_000): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill("SIGKILL"), ms)
    child.once("exit", () => { clearTimeout(timer); resolve() })
    child.kill("SIGTERM")
  })

export const start = async (): Promise<Cluster> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-slurm-"))
  fs.chmodSync(dir, 0o700)
  const children: Array<ChildProcess> = []
  let stopped = false
  // A test process that ends without stop() leaves nothing behind either.
  const onExit = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.once("exit", onExit)

  const file = (...parts: Array<string>) => path.join(dir, ...parts)
  for (const sub of ["munge", "state", "spool", "log"]) fs.mkdirSync(file(sub), { mode: 0o700 })
  const conf = file("slurm.conf")
  const env = { SLURM_CONF: conf }
  const daemon = (program: Program, args: ReadonlyArray<string>) => {
    const child = spawn(locate(program)!, [...args], { stdio: "ignore", env: { ...process.env, ...env } })
    child.on("error", () => undefined)
    children.push(child)
    return child
  }
  const logs = () => ["munge/munged.log", "log/slurmctld.log", "log/slurmd.log"].map((f) => {
    try {
      return `--- ${f}\n${fs.readFileSync(file(f), "utf8").split("\n").slice(-25).join("\n")}`
    } catch {
      return `--- ${f}: none`
    }
  }).join("\n")
  const run = (program: "sbatch" | "scancel" | "squeue" | "sacct" | "sinfo", args: ReadonlyArray<string>) =>
    new Promise<string>((resolve, reject) => {
      execFile(locate(program)!, [...args], { env: { ...process.env, ...env }, encoding: "utf8", timeout: 30_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${program} ${args.join(" ")}: ${stderr || error.message}`)) : resolve(stdout))
    })

  const stop = async () => {
    if (stopped) return
    stopped = true
    try {
      // Jobs first: their processes (slurmstepd and the job's own) outlive slurmd.
      if (children.length >= 3) {
        await run("scancel", ["--user", os.userInfo().username]).catch(() => undefined)
        await waitFor(async () => (await run("squeue", ["--noheader", "--states=PENDING,RUNNING,COMPLETING,CONFIGURING,SUSPENDED"]).catch(() => "")).trim() === "", "the cluster's jobs to end", 20_000, logs).catch(() => undefined)
      }
      for (const child of [...children].reverse()) await stopChild(child)
    } finally {
      process.removeListener("exit", onExit)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }

  try {
    const key = file("munge", "munge.key")
    const socket = file("munge", "munge.socket")
    execFileSync(locate("mungekey")!, ["--create", `--keyfile=${key}`], { stdio: "pipe" })
    // --force: the temp dir's parents are world-writable (/tmp), which munged otherwise refuses.
    const munged = daemon("munged", [
      "--foreground", "--force", `--key-file=${key}`, `--socket=${socket}`, `--pid-file=${file("munge", "munged.pid")}`,
      `--log-file=${file("munge", "munged.log")}`, `--seed-file=${file("munge", "munged.seed")}`
    ])
    await waitFor(() => fs.existsSync(socket) || munged.exitCode !== null, "munged's socket", 15_000, logs)
    if (munged.exitCode !== null) throw new Error(`munged exited with code ${munged.exitCode}\n${logs()}`)

    const host = execFileSync("hostname", ["-s"], { encoding: "utf8" }).trim()
    const user = os.userInfo().username
    const [controllerPort, nodePort] = await freePorts(2)
    fs.writeFileSync(conf, [
      "ClusterName=zephyrtest",
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${controllerPort}`,
      `SlurmdPort=${nodePort}`,
      `SlurmUser=${user}`,
      `SlurmdUser=${user}`,
      "AuthType=auth/munge",
      "CredType=cred/munge",
      `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${file("state")}`,
      `SlurmdSpoolDir=${file("spool")}`,
      `SlurmctldPidFile=${file("slurmctld.pid")}`,
      `SlurmdPidFile=${file("slurmd.pid")}`,
      `SlurmctldLogFile=${file("log", "slurmctld.log")}`,
      `SlurmdLogFile=${file("log", "slurmd.log")}`,
      "ProctrackType=proctrack/linuxproc",
      "TaskPlugin=task/none",
      "SelectType=select/cons_tres",
      "SelectTypeParameters=CR_CPU",
      "SchedulerType=sched/builtin",
      "MpiDefault=none",
      "JobAcctGatherType=jobacct_gather/none",
      "AccountingStorageType=accounting_storage/none",
      "JobCompType=jobcomp/none",
      "ReturnToService=2",
      // Four CPUs and 4 GiB even on a smaller machine: a worker array of 2-3 tasks fits at once.
      "SlurmdParameters=config_overrides",
      "KillWait=5",
      "InactiveLimit=0",
      `NodeName=${host} NodeAddr=127.0.0.1 CPUs=4 RealMemory=4096 State=UNKNOWN`,
      `PartitionName=zephyr Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
      ""
    ].join("\n"))
    daemon("slurmctld", ["-D", "-f", conf])
    daemon("slurmd", ["-D", "-f", conf])
    await waitFor(async () => /^idle/m.test(await run("sinfo", ["--noheader", "--format=%T"]).catch(() => "")), "the node to be idle in sinfo", 45_000, logs)
  } catch (e) {
    await stop()
    throw e
  }
  return { dir, env, run, logs, stop }
}
