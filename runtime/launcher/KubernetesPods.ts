import type { V1ContainerStateTerminated, V1Job, V1Pod } from "@kubernetes/client-node"
import { indexAnnotation } from "./KubernetesObjects.ts"

/**
 * What the kubernetes launcher makes of each listing of its pods, as a pure function: which
 * workers died (a pod that failed, was evicted, is being deleted or vanished), and what a
 * user should hear about pods that cannot start (an image that cannot be pulled, a pod no
 * node has room for). A worker process that dies leaves nothing on its TCP connection the
 * coordinator would act on, so without this its shards would wait for the heartbeat timeout.
 */

/** What is remembered of a pod between listings. */
export interface Tracked {
  readonly name: string
  readonly index: number | undefined
  /** Reported dead, or succeeded: nothing more to say about it. */
  readonly ended: boolean
  /** Conditions already warned about (one warning per pod and reason). */
  readonly warned: ReadonlyArray<string>
}

export interface Death {
  readonly index: number
  readonly pod: string
  readonly reason: string
  readonly outOfMemory: boolean
}

export interface Observation {
  readonly tracked: ReadonlyMap<string, Tracked>
  readonly deaths: ReadonlyArray<Death>
  readonly warnings: ReadonlyArray<string>
}

/** Waiting reasons that keep a container from ever starting without someone's help. */
const stuckReasons = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError", "RunContainerError"])

export const indexOf = (pod: V1Pod): number | undefined => {
  const text = pod.metadata?.annotations?.[indexAnnotation] ?? pod.metadata?.labels?.[indexAnnotation]
  return text !== undefined && /^\d+$/.test(text) ? Number(text) : undefined
}

const terminatedOf = (pod: V1Pod): V1ContainerStateTerminated | undefined => {
  for (const c of pod.status?.containerStatuses ?? []) {
    const t = c.state?.terminated ?? c.lastState?.terminated
    if (t) return t
  }
  return undefined
}

/** Why a failed pod failed, in words: the pod's own reason (Evicted, ...) or its container's exit. */
const failure = (pod: V1Pod): { readonly reason: string; readonly outOfMemory: boolean } => {
  const t = terminatedOf(pod)
  const outOfMemory = t?.reason === "OOMKilled"
  const parts: Array<string> = []
  if (pod.status?.reason) parts.push(pod.status.reason)
  if (pod.status?.message) parts.push(`(${pod.status.message.trim()})`)
  if (t) parts.push(`container ${t.reason ?? "terminated"} with exit code ${t.exitCode}${t.signal ? `, signal ${t.signal}` : ""}`)
  if (outOfMemory) parts.push("over its memory limit: give the pods more memory (--k8s-memory) or lower --memory-budget")
  const disrupted = pod.status?.conditions?.find((c) => c.type === "DisruptionTarget" && c.status === "True")
  if (disrupted && !pod.status?.reason) parts.push(`disrupted: ${disrupted.reason ?? "evicted"}${disrupted.message ? ` (${disrupted.message})` : ""}`)
  return { reason: parts.length > 0 ? parts.join(" ") : "no reason given", outOfMemory }
}

const stuck = (pod: V1Pod): Array<{ readonly key: string; readonly text: string }> => {
  const out: Array<{ key: string; text: string }> = []
  for (const c of pod.status?.containerStatuses ?? []) {
    const w = c.state?.waiting
    if (w?.reason && stuckReasons.has(w.reason)) out.push({ key: w.reason, text: `${w.reason}${w.message ? `: ${w.message}` : ""}` })
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === "PodScheduled")
  if (scheduled?.status === "False" && scheduled.reason === "Unschedulable") {
    out.push({ key: "Unschedulable", text: `no node can take it${scheduled.message ? `: ${scheduled.message}` : ""}` })
  }
  return out
}

/** Folds one listing of the pool's pods into what is known, and says what changed. */
export const observe = (previous: ReadonlyMap<string, Tracked>, pods: ReadonlyArray<V1Pod>): Observation => {
  const tracked = new Map<string, Tracked>()
  const deaths: Array<Death> = []
  const warnings: Array<string> = []
  const died = (t: Tracked, reason: string, outOfMemory: boolean) => {
    if (t.index === undefined) warnings.push(`pod ${t.name} ended (${reason}) but carries no completion index: its worker is left to the heartbeat timeout`)
    else deaths.push({ index: t.index, pod: t.name, reason: `pod ${t.name} ${reason}`, outOfMemory })
  }
  for (const pod of pods) {
    const uid = pod.metadata?.uid ?? pod.metadata?.name
    if (uid === undefined) continue
    const before = previous.get(uid)
    const name = pod.metadata?.name ?? uid
    let t: Tracked = before ?? { name, index: indexOf(pod), ended: false, warned: [] }
    if (!t.ended) {
      const phase = pod.status?.phase
      if (phase === "Succeeded") {
        t = { ...t, ended: true }
      } else if (phase === "Failed") {
        const f = failure(pod)
        died(t, `failed: ${f.reason}`, f.outOfMemory)
        t = { ...t, ended: true }
      } else if (pod.metadata?.deletionTimestamp) {
        died(t, "is being deleted", false)
        t = { ...t, ended: true }
      } else {
        const fresh = stuck(pod).filter((s) => !t.warned.includes(s.key))
        for (const s of fresh) warnings.push(`pod ${name} cannot start: ${s.text}`)
        if (fresh.length > 0) t = { ...t, warned: [...t.warned, ...fresh.map((s) => s.key)] }
      }
    }
    tracked.set(uid, t)
  }
  for (const [uid, t] of previous) {
    if (tracked.has(uid)) continue
    if (!t.ended) died(t, "was deleted", false)
  }
  return { tracked, deaths, warnings }
}

/**
 * Whether the Job is over for good (every index succeeded, or failed past its
 * `backoffLimitPerIndex`), and why; a Job that no longer exists is over too.
 */
export const finished = (job: V1Job | undefined): string | undefined => {
  if (job === undefined) return "the Job was deleted"
  const c = job.status?.conditions?.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True")
  if (!c) return undefined
  return c.type === "Complete" ? "every worker pod completed" : `the Job failed${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ""})` : ""}`
}
