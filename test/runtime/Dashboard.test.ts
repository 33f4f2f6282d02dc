import * as net from "node:net"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as net.AddressInfo).port
    s.close(() => resolve(port))
  })
})

describe("dashboard", () => {
  it("serves a page, the status and the plan while a run is under way, and stops with it", async () => {
    const port = await freePort()
    const slow = Dataset.fromList([1, 2, 3, 4]).mapEffect((n) => Effect.sleep("1 second").pipe(Effect.as(n * 2)))
    const run = Zephyr.run(slow, { workers: 2, dashboard: port })
    let status: any
    for (let i = 0; i < 100 && !status?.total; i++) {
      await new Promise((r) => setTimeout(r, 50))
      status = await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.json(), () => undefined)
    }
    expect(status).toMatchObject({ stage: 0, stages: 1, total: 4, done: false })
    expect(status.workers).toHaveLength(2)
    expect(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())).toContain("<title>zephyr</title>")
    const plan = (await fetch(`http://127.0.0.1:${port}/plan`).then((r) => r.json())) as { stages: Array<{ ops: Array<{ kind: string }> }> }
    expect(plan.stages[0]!.ops[0]!.kind).toBe("mapEffect")
    expect((await run).results).toEqual([2, 4, 6, 8])
    await expect(fetch(`http://127.0.0.1:${port}/status`)).rejects.toThrow()
  })
})
