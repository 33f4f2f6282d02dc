import { describe, expect, it } from "vitest"
import * as SlurmStates from "../../../runtime/launcher/SlurmStates.ts"

describe("SlurmStates.fateOf", () => {
  it.each([
    ["PENDING", "live"], ["CONFIGURING", "live"], ["RUNNING", "live"], ["COMPLETING", "live"], ["REQUEUED", "live"],
    ["REQUEUE_HOLD", "live"], ["SUSPENDED", "live"], ["STOPPED", "live"], ["RESIZING", "live"], ["SIGNALING", "live"],
    ["SOME_NEW_STATE", "live"],
    ["COMPLETED", "completed"],
    ["CANCELLED", "lost"], ["CANCELLED by 1000", "lost"], ["CANCELLED+", "lost"], ["FAILED", "lost"], ["NODE_FAIL", "lost"],
    ["PREEMPTED", "lost"], ["TIMEOUT", "lost"], ["OUT_OF_MEMORY", "lost"], ["BOOT_FAIL", "lost"], ["DEADLINE", "lost"],
    ["SPECIAL_EXIT", "lost"], ["timeout", "lost"]
  ] as const)("%s is %s", (state, fate) => {
    expect(SlurmStates.fateOf(state)).toBe(fate)
  })
})

describe("SlurmStates.parseSqueue and parseSacct", () => {
  it("reads one task per line of `squeue --array --format=%K|%T`, skipping what is not a task", () => {
    expect(SlurmStates.parseSqueue("2|PENDING\n1|RUNNING\n0|CANCELLED\n\n3-5|PENDING\nslurm_load_jobs error\n")).toEqual([
      { task: 2, state: "PENDING" }, { task: 1, state: "RUNNING" }, { task: 0, state: "CANCELLED" }
    ])
  })
  it("reads the job's tasks in sacct's JobID|State lines, not its steps nor other jobs", () => {
    const out = "17_0|COMPLETED\n17_1|CANCELLED by 0\n17_1.batch|CANCELLED\n170_2|FAILED\n17_[2-3]|PENDING\n17_4|NODE_FAIL\n"
    expect(SlurmStates.parseSacct(out, "17")).toEqual([
      { task: 0, state: "COMPLETED" }, { task: 1, state: "CANCELLED" }, { task: 4, state: "NODE_FAIL" }
    ])
  })
  it("tells a task Slurm killed for its memory", () => {
    expect(SlurmStates.isOutOfMemory("OUT_OF_MEMORY")).toBe(true)
    expect(SlurmStates.isOutOfMemory("FAILED")).toBe(false)
  })
  it("asks squeue for every task, finished ones too, and sacct only with options Slurm 22.05 has (no --array)", () => {
    expect(SlurmStates.squeueArgs("17")).toEqual(["--jobs=17", "--array", "--states=all", "--noheader", "--format=%K|%T"])
    expect(SlurmStates.sacctArgs("17")).toEqual(["--jobs=17", "--allocations", "--noheader", "--parsable2", "--format=JobID,State"])
  })
  it("knows squeue's answer for a job the controller forgot", () => {
    expect(SlurmStates.isUnknownJob("slurm_load_jobs error: Invalid job id specified")).toBe(true)
    expect(SlurmStates.isUnknownJob("slurm_load_jobs error: Unable to contact slurm controller (connect failure)")).toBe(false)
  })
})

const states = (tracked: SlurmStates.Tracked) => Object.fromEntries([...tracked].map(([task, t]) => [task, `${t.fate} ${t.state}`]))
const listed = (...pairs: Array<[number, string]>) => pairs.map(([task, state]) => ({ task, state }))

describe("SlurmStates.update: what each poll means for the workers", () => {
  it.each([
    {
      name: "pending and running tasks: nothing lost, not ended",
      before: [], listing: listed([0, "RUNNING"], [1, "PENDING"]), unlistedAreLost: false,
      lost: [], ended: false, after: { 0: "live RUNNING", 1: "live PENDING" }
    },
    {
      name: "a cancelled task is lost once",
      before: [listed([0, "RUNNING"], [1, "RUNNING"])], listing: listed([0, "RUNNING"], [1, "CANCELLED"]), unlistedAreLost: false,
      lost: [1], ended: false, after: { 0: "live RUNNING", 1: "lost CANCELLED" }
    },
    {
      name: "a task still lost on the next poll is not reported again",
      before: [listed([0, "RUNNING"], [1, "NODE_FAIL"])], listing: listed([0, "RUNNING"], [1, "NODE_FAIL"]), unlistedAreLost: false,
      lost: [], ended: false, after: { 0: "live RUNNING", 1: "lost NODE_FAIL" }
    },
    {
      name: "a requeued task is live again, and lost again when it fails again",
      before: [listed([0, "PREEMPTED"]), listed([0, "PENDING"])], listing: listed([0, "TIMEOUT"]), unlistedAreLost: false,
      lost: [0], ended: true, after: { 0: "lost TIMEOUT" }
    },
    {
      name: "completed workers are not lost; every task ended ends the pool",
      before: [listed([0, "RUNNING"], [1, "FAILED"])], listing: listed([0, "COMPLETED"], [1, "FAILED"]), unlistedAreLost: false,
      lost: [], ended: true, after: { 0: "completed COMPLETED", 1: "lost FAILED" }
    },
    {
      name: "an unlisted task stays as it was until sacct had its say",
      before: [listed([0, "RUNNING"], [1, "PENDING"])], listing: listed([0, "RUNNING"]), unlistedAreLost: false,
      lost: [], ended: false, after: { 0: "live RUNNING", 1: "live PENDING" }
    },
    {
      name: "an unlisted task nobody knows of ended unseen (cancelled while pending, or forgotten)",
      before: [listed([0, "RUNNING"], [1, "PENDING"])], listing: listed([0, "RUNNING"]), unlistedAreLost: true,
      lost: [1], ended: false, after: { 0: "live RUNNING", 1: "lost UNKNOWN" }
    },
    {
      name: "a forgotten job: finished tasks keep their fate, live ones are lost",
      before: [listed([0, "COMPLETED"], [1, "RUNNING"])], listing: [], unlistedAreLost: true,
      lost: [1], ended: true, after: { 0: "completed COMPLETED", 1: "lost UNKNOWN" }
    }
  ])("$name", ({ before, listing, unlistedAreLost, lost, ended, after }) => {
    let tracked = SlurmStates.initial(Object.keys(after).length)
    for (const earlier of before) tracked = SlurmStates.update(tracked, earlier, false).tracked
    const u = SlurmStates.update(tracked, listing, unlistedAreLost)
    expect(u.lost.map((t) => t.task)).toEqual(lost)
    expect(u.ended).toBe(ended)
    expect(states(u.tracked)).toEqual(after)
  })

  it("names the live tasks a listing leaves out, for sacct", () => {
    const tracked = SlurmStates.update(SlurmStates.initial(3), listed([0, "COMPLETED"], [1, "RUNNING"], [2, "RUNNING"]), false).tracked
    expect(SlurmStates.unlisted(tracked, listed([1, "RUNNING"]))).toEqual([2])
  })

  it("describes a lost task with its job, state and output file", () => {
    expect(SlurmStates.describe("17", { task: 1, state: "CANCELLED" }, "/c/e/slurm-17_1.log")).toBe("Slurm array task 17_1 CANCELLED; its output: /c/e/slurm-17_1.log")
    expect(SlurmStates.describe("17", { task: 2, state: "UNKNOWN" }, undefined)).toBe("Slurm array task 17_2 ended (squeue and sacct no longer list it)")
  })
})

describe("SlurmStates: the restart policy", () => {
  const lost = (...tasks: Array<number>) => tasks.map((task) => ({ task, state: "CANCELLED" }))
  // lost tasks, restarts each has had, maxWorkerRestarts, run still going -> tasks to requeue
  const table: Array<[string, ReturnType<typeof lost>, Array<[number, number]>, number, boolean, Array<number>]> = [
    ["a first loss", lost(1), [], 3, true, [1]],
    ["restarts left", lost(0, 1), [[0, 2], [1, 3]], 3, true, [0]],
    ["restarts used up", lost(1), [[1, 3]], 3, true, []],
    ["no restarts allowed", lost(1), [], 0, true, []],
    ["the run is over", lost(1), [], 3, false, []]
  ]
  for (const [name, tasks, used, max, running, expected] of table) {
    it(`${name}: ${JSON.stringify(expected)}`, () => {
      expect(SlurmStates.toRestart(tasks, new Map(used), max, running)).toEqual(expected)
    })
  }

  it("a requeued task is live again until squeue says otherwise; its commands keep its job and task id", () => {
    const tracked = SlurmStates.update(SlurmStates.initial(2), [{ task: 0, state: "RUNNING" }, { task: 1, state: "CANCELLED" }], false).tracked
    expect(SlurmStates.requeued(tracked, 1).get(1)).toEqual({ fate: "live", state: "REQUEUED" })
    expect(SlurmStates.requeueCommands("42", 1)).toEqual([["requeue", "42_1"], ["update", "JobId=42_1", "StartTime=now"]])
  })
})
