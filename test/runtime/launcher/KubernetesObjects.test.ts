import { dumpYaml } from "@kubernetes/client-node"
import { describe, expect, it } from "vitest"
import * as KubernetesObjects from "../../../runtime/launcher/KubernetesObjects.ts"
import * as Samples from "./KubernetesSamples.ts"

describe("KubernetesObjects", () => {
  for (const [name, object] of Object.entries(Samples.rendered())) {
    it(`renders ${name} as in golden/kubernetes/${name}.yaml`, async () => {
      await expect(dumpYaml(object, { noRefs: true })).toMatchFileSnapshot(`./golden/kubernetes/${name}.yaml`)
    })
  }

  it("keeps the token and the coordinator's address out of the Job: its pods read them from the Secret", () => {
    const objects = Samples.rendered()
    for (const job of [objects["job-by-address"], objects["job-by-service"]]) {
      const text = JSON.stringify(job)
      expect(text).not.toContain(Samples.token)
      expect(text).not.toContain("10.0.0.5")
      expect(text).not.toContain(".svc:")
      expect(text).toContain('"name":"ZEPHYR_TOKEN","valueFrom":{"secretKeyRef"')
      // The worker registers as running on its pod: a late failure of a replaced pod is told apart from its replacement.
      expect(text).toContain('"name":"ZEPHYR_WORKER_HOST","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}')
    }
  })

  it("names a pool's objects after it, in lowercase, short enough for pod host names", () => {
    expect(KubernetesObjects.objectName("wordcount-1a2b3c4d-mx2q1iov6a65-a1")).toBe("zephyr-wordcount-1a2b3c4d-mx2q1iov6a65-a1")
    const folded = KubernetesObjects.objectName("My_Run-a1")
    expect(folded).toMatch(/^zephyr-my-run-a1-[0-9a-f]{8}$/)
    expect(KubernetesObjects.objectName("my-run-a1")).not.toBe(folded)
    const long = KubernetesObjects.objectName(`${"x".repeat(120)}-a12`)
    expect(long.length).toBeLessThanOrEqual(52)
    expect(long).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])?$/)
    expect(KubernetesObjects.objectName(`${"x".repeat(120)}-a13`)).not.toBe(long)
  })
})
