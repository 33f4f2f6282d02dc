import { describe, expect, it } from "vitest"
import * as SlurmOptions from "../../../runtime/launcher/SlurmOptions.ts"

const failure = (f: () => unknown): { _tag?: string; reason?: string; message: string } => {
  try {
    f()
  } catch (e) {
    return e as { message: string }
  }
  throw new Error("expected an error")
}

describe("SlurmOptions.resolve", () => {
  it("takes nothing as Slurm's defaults", () => {
    expect(SlurmOptions.resolve(undefined, "slurm", 384)).toEqual(SlurmOptions.none)
    expect(SlurmOptions.resolve({}, "local", 384)).toEqual(SlurmOptions.none)
  })

  it.each([
    ["90", "90"], ["1:30:00", "1:30:00"], ["2-00:00:00", "2-00:00:00"], ["2-12", "2-12"], ["UNLIMITED", "UNLIMITED"], ["0", "0"],
    ["90m", "0-01:30:00"], ["12h", "0-12:00:00"], ["2d", "2-00:00:00"], ["90s", "0-00:01:30"], ["1.5h", "0-01:30:00"]
  ])("time %s → --time=%s", (given, slurm) => {
    expect(SlurmOptions.resolve({ time: given }, "slurm", 384).time).toBe(slurm)
  })

  it.each([
    ["2GB", 1908], ["1536MiB", 1536], ["4G", 4096], ["1.5GiB", 1536], ["1T", 1024 * 1024], [2 ** 30, 1024]
  ] as const)("memory %s → --mem=%iM", (given, megabytes) => {
    expect(SlurmOptions.resolve({ memoryPerWorker: given }, "slurm", 384).memoryMegabytes).toBe(megabytes)
  })

  it("passes sbatch arguments through, one word each, an option's value after it", () => {
    expect(SlurmOptions.resolve({ sbatchArgs: ["--account=proj", "-q", "high", "--exclusive", "-Jname"] }, "slurm", 384).sbatchArgs)
      .toEqual(["--account=proj", "-q", "high", "--exclusive", "-Jname"])
  })

  it.each([
    [{ partition: "gpu nodes" }, "slurm.partition (--slurm-partition)", "a partition name"],
    [{ partition: "" }, "slurm.partition (--slurm-partition)", "a partition name"],
    [{ time: "soon" }, "slurm.time (--slurm-time)", "a time limit such as"],
    [{ time: "0m" }, "slurm.time (--slurm-time)", "above zero"],
    [{ time: 90 }, "slurm.time (--slurm-time)", "a time limit such as"],
    [{ cpusPerWorker: 0 }, "slurm.cpusPerWorker (--slurm-cpus-per-worker)", "an integer >= 1"],
    [{ cpusPerWorker: 1.5 }, "slurm.cpusPerWorker (--slurm-cpus-per-worker)", "an integer >= 1"],
    [{ memoryPerWorker: "2048" }, "slurm.memoryPerWorker (--slurm-mem-per-worker)", "a size with a unit"],
    [{ memoryPerWorker: "lots" }, "slurm.memoryPerWorker (--slurm-mem-per-worker)", "a size with a unit"],
    [{ memoryPerWorker: "256MB" }, "slurm.memoryPerWorker (--slurm-mem-per-worker)", "at least a worker's V8 heap (384 MiB"],
    [{ sbatchArgs: "--qos=high" }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "a list of sbatch arguments"],
    [{ sbatchArgs: ["--array=0-9"] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "the slurm backend sets --array itself"],
    [{ sbatchArgs: ["-a", "0-9"] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "the slurm backend sets -a itself"],
    [{ sbatchArgs: ["--export=NONE"] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "sets --export itself"],
    [{ sbatchArgs: ["--expo=NONE"] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "sets --export itself"],
    [{ sbatchArgs: ["--parsable"] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "sets --parsable itself"],
    [{ sbatchArgs: ["--wrap=sleep 1"] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "sets --wrap itself"],
    [{ sbatchArgs: ["job.sh"] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "sbatch would take a bare word for the batch script"],
    [{ sbatchArgs: ["--qos=high", "high"] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "sbatch would take a bare word"],
    [{ sbatchArgs: ["--comment=a\nb"] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "on one line"],
    [{ sbatchArgs: [""] }, "slurm.sbatchArgs (--slurm-sbatch-arg)", "a non-empty sbatch argument"]
  ] as const)("%j fails naming %s", (options, named, expected) => {
    const e = failure(() => SlurmOptions.resolve(options as SlurmOptions.Options, "slurm", 384))
    expect(e).toMatchObject({ _tag: "ZephyrPlanError", reason: "invalid-option" })
    expect(e.message).toContain(`Invalid option ${named}`)
    expect(e.message).toContain(expected)
  })

  it("refuses slurm options on another backend, naming the first one and the backend", () => {
    const e = failure(() => SlurmOptions.resolve({ partition: "gpu" }, "local", 384))
    expect(e).toMatchObject({ _tag: "ZephyrPlanError", reason: "invalid-option" })
    expect(e.message).toContain('slurm.partition (--slurm-partition): only the slurm backend uses it, and this run\'s backend is "local"')
  })
})
