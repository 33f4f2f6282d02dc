import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as SlurmJob from "../../../runtime/launcher/SlurmJob.ts"
import * as SlurmOptions from "../../../runtime/launcher/SlurmOptions.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tmp = useTempDirs("zephyr-slurm-job-")

const input = (over: Partial<SlurmJob.Input> = {}): SlurmJob.Input => ({
  pool: "wc-1a2b-mx2q-a0",
  workers: 3,
  coordinator: "login1:7070",
  token: "tok-9f8e7d6c5b4a",
  node: "/opt/node 20/bin/node",
  zephyr: "/home/me/zephyr/bin/zephyr.js",
  heapFlags: ["--max-old-space-size=384"],
  heapEnvironment: { ZEPHYR_HEAP_GROWING_PERCENT: "300" },
  logDir: "/shared/chunks/wc-1a2b-mx2q",
  options: SlurmOptions.none,
  ...over
})

describe("SlurmJob.submission", () => {
  it("submits one array of N tasks, parsable, exporting the environment, output in the execution directory", () => {
    const s = SlurmJob.submission(input())
    expect(s.args).toEqual([
      "--parsable", "--array=0-2", "--job-name=zephyr-wc-1a2b-mx2q-a0", "--export=ALL", "--ntasks=1", "--requeue",
      "--output=/shared/chunks/wc-1a2b-mx2q/slurm-%A_%a.log"
    ])
    expect(SlurmJob.logOf(s.logPattern, "17", 2)).toBe("/shared/chunks/wc-1a2b-mx2q/slurm-17_2.log")
  })

  it("asks for the partition, time, CPUs and memory given, and puts the extra arguments last", () => {
    const options = SlurmOptions.resolve({ partition: "batch", time: "90m", cpusPerWorker: 2, memoryPerWorker: "2GB", sbatchArgs: ["--account=proj", "-q", "high"] }, "slurm", 384)
    expect(SlurmJob.submission(input({ options })).args.slice(7)).toEqual([
      "--partition=batch", "--time=0-01:30:00", "--cpus-per-task=2", "--mem=1908M", "--account=proj", "-q", "high"
    ])
  })

  it("leaves the output file to Slurm when the directory holds Slurm's pattern characters", () => {
    const s = SlurmJob.submission(input({ logDir: "/data/100%/chunks/e1" }))
    expect(s.args.some((a) => a.startsWith("--output"))).toBe(false)
    expect(SlurmJob.logOf(s.logPattern, "17", 0)).toBeUndefined()
  })

  it("keeps the coordinator's address and the token out of the script and the arguments: they are in the environment, with the heap's growth", () => {
    const s = SlurmJob.submission(input())
    expect(s.env).toEqual({ ZEPHYR_COORDINATOR: "login1:7070", ZEPHYR_TOKEN: "tok-9f8e7d6c5b4a", ZEPHYR_HEAP_GROWING_PERCENT: "300" })
    expect(s.script).not.toContain("tok-9f8e7d6c5b4a")
    expect(s.args.join(" ")).not.toContain("tok-9f8e7d6c5b4a")
    expect(s.script).not.toContain("login1:7070")
  })

  it("writes a script that runs `zephyr worker` with the driver's node and checkout, as worker <pool>-w<task>", () => {
    const dir = tmp()
    const argv = path.join(dir, "argv.js")
    fs.writeFileSync(argv, "console.log(JSON.stringify({ argv: process.argv.slice(1), execArgv: process.execArgv, token: process.env.ZEPHYR_TOKEN, growth: process.env.ZEPHYR_HEAP_GROWING_PERCENT }))\n")
    // The driver's node, under a path with a space and a quote, runs a stand-in for bin/zephyr.js.
    const node = path.join(dir, "it's node")
    fs.symlinkSync(process.execPath, node)
    const s = SlurmJob.submission(input({ node, zephyr: argv }))
    const out = execFileSync("sh", ["-c", s.script], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "", SLURM_ARRAY_TASK_ID: "2", ...s.env }
    })
    expect(JSON.parse(out)).toEqual({
      argv: [argv, "worker", "--coordinator", "login1:7070", "--worker-id", "wc-1a2b-mx2q-a0-w2"],
      execArgv: ["--max-old-space-size=384"],
      token: "tok-9f8e7d6c5b4a",
      growth: "300"
    })
  })

  it("refuses to start a worker without the coordinator's address in its environment", () => {
    const s = SlurmJob.submission(input())
    let message = ""
    try {
      execFileSync("sh", ["-c", s.script], { encoding: "utf8", stdio: "pipe", env: { PATH: process.env.PATH ?? "", SLURM_ARRAY_TASK_ID: "0" } })
    } catch (e) {
      message = String((e as { stderr?: string }).stderr)
    }
    expect(message).toContain("ZEPHYR_COORDINATOR: is not set: submit with sbatch --export=ALL")
  })
})

describe("SlurmJob.jobIdOf", () => {
  it.each([["1234\n", "1234"], ["1234;cluster2\n", "1234"], ["Submitted batch job 1234\n", undefined], ["", undefined]])("%j → %s", (stdout, id) => {
    expect(SlurmJob.jobIdOf(stdout)).toBe(id)
  })
})
