import type { V1Job, V1Pod, V1PodStatus } from "@kubernetes/client-node"
import { describe, expect, it } from "vitest"
import * as KubernetesPods from "../../../runtime/launcher/KubernetesPods.ts"

const pod = (name: string, index: number, status: V1PodStatus, more: { deleting?: boolean } = {}): V1Pod => ({
  metadata: {
    name, uid: `uid-${name}`,
    annotations: { "batch.kubernetes.io/job-completion-index": String(index) },
    ...(more.deleting ? { deletionTimestamp: new Date("2026-01-01T00:00:00Z") } : {})
  },
  status
})
const running: V1PodStatus = { phase: "Running" }
const waiting = (reason: string, message = ""): V1PodStatus => ({ phase: "Pending", containerStatuses: [{ name: "worker", image: "i", imageID: "", ready: false, restartCount: 0, state: { waiting: { reason, message } } }] })
const terminated = (exitCode: number, reason: string): V1PodStatus => ({ phase: "Failed", containerStatuses: [{ name: "worker", image: "i", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode, reason } } }] })

/** Observes each listing in turn; returns every death and warning, in order. */
const replay = (...listings: Array<Array<V1Pod>>) => {
  let tracked: ReadonlyMap<string, KubernetesPods.Tracked> = new Map()
  const deaths: Array<KubernetesPods.Death> = []
  const warnings: Array<string> = []
  for (const pods of listings) {
    const o = KubernetesPods.observe(tracked, pods)
    tracked = o.tracked
    deaths.push(...o.deaths)
    warnings.push(...o.warnings)
  }
  return { deaths, warnings }
}

describe("KubernetesPods.observe", () => {
  const cases: ReadonlyArray<readonly [string, Array<Array<V1Pod>>, Array<Partial<KubernetesPods.Death>>]> = [
    ["running pods are alive", [[pod("p0", 0, running), pod("p1", 1, running)]], []],
    ["a pod that succeeded did not die", [[pod("p0", 0, running)], [pod("p0", 0, { phase: "Succeeded" })], []], []],
    ["a container that exits with an error", [[pod("p0", 0, running)], [pod("p0", 0, terminated(1, "Error"))]], [{ index: 0, reason: "pod p0 failed: container Error with exit code 1", outOfMemory: false }]],
    ["a container killed over its memory limit", [[pod("p1", 1, terminated(137, "OOMKilled"))]], [{ index: 1, outOfMemory: true }]],
    ["an evicted pod", [[pod("p0", 0, { phase: "Failed", reason: "Evicted", message: "The node was low on resource: memory." })]], [{ index: 0, reason: "pod p0 failed: Evicted (The node was low on resource: memory.)" }]],
    ["a preempted pod", [[pod("p0", 0, { phase: "Failed", conditions: [{ type: "DisruptionTarget", status: "True", reason: "PreemptionByScheduler" }] })]], [{ index: 0, reason: "pod p0 failed: disrupted: PreemptionByScheduler" }]],
    ["a pod being deleted", [[pod("p0", 0, running)], [pod("p0", 0, running, { deleting: true })]], [{ index: 0, reason: "pod p0 is being deleted" }]],
    ["a pod that vanished", [[pod("p0", 0, running), pod("p1", 1, running)], [pod("p1", 1, running)]], [{ index: 0, reason: "pod p0 was deleted" }]],
    ["a death is reported once, however many listings show it", [[pod("p0", 0, terminated(2, "Error"))], [pod("p0", 0, terminated(2, "Error"))], []], [{ index: 0 }]],
    ["a failed pod that then vanishes is not reported again", [[pod("p0", 0, terminated(2, "Error"))], []], [{ index: 0 }]],
    ["a replacement under the same index dies on its own", [[pod("p0", 0, terminated(1, "Error"))], [pod("p0", 0, terminated(1, "Error")), pod("p0b", 0, terminated(1, "Error"))]], [{ index: 0, pod: "p0" }, { index: 0, pod: "p0b" }]]
  ]
  for (const [what, listings, expected] of cases) {
    it(what, () => {
      const { deaths } = replay(...listings)
      expect(deaths).toHaveLength(expected.length)
      expected.forEach((e, i) => expect(deaths[i]).toMatchObject(e))
    })
  }

  it("warns once per pod and reason about a pod that cannot start, and says why", () => {
    const pullFails = pod("p0", 0, waiting("ImagePullBackOff", 'Back-off pulling image "registry.example/typo:1"'))
    const unschedulable = pod("p1", 1, { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available: 3 Insufficient cpu." }] })
    const { deaths, warnings } = replay([pullFails, unschedulable], [pullFails, unschedulable], [pod("p0", 0, waiting("ContainerCreating")), unschedulable])
    expect(deaths).toEqual([])
    expect(warnings).toEqual([
      'pod p0 cannot start: ImagePullBackOff: Back-off pulling image "registry.example/typo:1"',
      "pod p1 cannot start: no node can take it: 0/3 nodes are available: 3 Insufficient cpu."
    ])
  })

  it("a pod without a completion index cannot be named as a worker: it is said, not guessed", () => {
    const { deaths, warnings } = replay([{ metadata: { name: "stray", uid: "u" }, status: { phase: "Failed" } }])
    expect(deaths).toEqual([])
    expect(warnings[0]).toContain("pod stray ended (failed: no reason given) but carries no completion index")
  })
})

describe("KubernetesPods.finished", () => {
  const job = (conditions?: NonNullable<NonNullable<V1Job["status"]>["conditions"]>): V1Job => ({ status: conditions ? { conditions } : {} })
  it("is over when the Job completed, failed or was deleted, not before", () => {
    expect(KubernetesPods.finished(job(undefined))).toBeUndefined()
    expect(KubernetesPods.finished(job([{ type: "Suspended", status: "False" }, { type: "Failed", status: "False" }]))).toBeUndefined()
    expect(KubernetesPods.finished(job([{ type: "Complete", status: "True" }]))).toBe("every worker pod completed")
    expect(KubernetesPods.finished(job([{ type: "Failed", status: "True", reason: "FailedIndexes", message: "Job has failed indexes" }]))).toBe("the Job failed (FailedIndexes: Job has failed indexes)")
    expect(KubernetesPods.finished(undefined)).toBe("the Job was deleted")
  })
})
