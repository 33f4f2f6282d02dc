import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"

describe("local worker processes", () => {
  let saved: string | undefined
  beforeEach(() => { saved = process.env.ZEPHYR_TOKEN })
  afterEach(() => { if (saved === undefined) delete process.env.ZEPHYR_TOKEN; else process.env.ZEPHYR_TOKEN = saved })

  it("get no token in their environment or command line (theirs comes on stdin), not even the driver's", async () => {
    process.env.ZEPHYR_TOKEN = "driver-secret-for-external-workers"
    const r = await Zephyr.runModule<{ token: string | null; argv: string; pid: number }>("test/runtime/launcher/fixtures/secrets.ts", { workers: 2 })
    expect(r.results).toHaveLength(2)
    expect(r.results.every((w) => w.pid !== process.pid)).toBe(true)
    expect(r.results.map((w) => w.token)).toEqual([null, null])
    for (const w of r.results) expect(w.argv).not.toMatch(/token|driver-secret/i)
  }, 60_000)
})
