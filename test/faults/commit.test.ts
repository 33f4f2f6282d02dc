import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"
import { alive, waitFor } from "./Processes.ts"

// Exactly-once final outputs with real worker processes: an attempt wrongly declared dead
// that finishes later must not overwrite the file of the attempt the coordinator accepted.
let dir: string
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-commit-")) })
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

const hidden = (out: string) => (fs.existsSync(out) ? fs.readdirSync(out).filter((f) => f.startsWith(".")) : [])
const rows = (file: string) => fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { i: number; pid: number })

describe("output commits with real worker processes", () => {
  it("a worker SIGKILLed mid-write: its shard is written whole elsewhere, and the dead attempt's hidden file does not stay behind", async () => {
    const out = path.join(dir, "out")
    const result = await Zephyr.runModule<string>("test/faults/fixtures/killed-writer.ts", {
      workers: 2,
      heartbeatInterval: "200ms",
      heartbeatTimeout: "1500ms",
      chunkDir: path.join(dir, "chunks"),
      args: { dir, out }
    })
    expect(fs.existsSync(path.join(dir, "killed"))).toBe(true)
    expect(result.results.map((p) => path.basename(p))).toEqual(["part-0.jsonl", "part-1.jsonl", "part-2.jsonl", "part-3.jsonl"])
    expect(fs.readdirSync(out).sort()).toEqual(["part-0.jsonl", "part-1.jsonl", "part-2.jsonl", "part-3.jsonl"])
    expect(fs.readFileSync(path.join(out, "part-0.jsonl"), "utf8").trim().split("\n")).toHaveLength(6000)
  }, 120_000)

  it("a worker SIGSTOPped past the heartbeat timeout, continued after its shard was redone elsewhere, does not overwrite the output", async () => {
    const out = path.join(dir, "out")
    const run = Zephyr.runModule<string>("test/faults/fixtures/stalled-writer.ts", {
      workers: 2,
      heartbeatInterval: "200ms",
      heartbeatTimeout: "1500ms",
      chunkDir: path.join(dir, "chunks"),
      args: { dir, out }
    })
    run.catch(() => undefined)
    let stopped = 0
    try {
      await waitFor(() => fs.existsSync(path.join(dir, "stopped.pid")), "a worker to stop itself while writing shard 0")
      stopped = Number(fs.readFileSync(path.join(dir, "stopped.pid"), "utf8"))
      // The second stage has started: every shard of the write, shard 0 included, was accepted.
      await waitFor(() => fs.readdirSync(dir).some((f) => f.startsWith("gate-")), "the write stage to complete without the stopped worker")
      const accepted = rows(path.join(out, "part-0.jsonl"))
      expect(accepted).toEqual([{ i: 0, pid: expect.any(Number) }])
      expect(accepted[0]!.pid).not.toBe(stopped)
      process.kill(stopped, "SIGCONT")
      // The stopped attempt finishes its file and reports; its file must go, not replace the output.
      await waitFor(() => hidden(out).length === 0, "the continued attempt's file to be published or removed")
      expect(rows(path.join(out, "part-0.jsonl"))).toEqual(accepted)
    } finally {
      fs.writeFileSync(path.join(dir, "release"), "")
      if (stopped > 0 && alive(stopped)) process.kill(stopped, "SIGCONT")
    }
    const result = await run
    expect(result.results.map((p) => path.basename(p))).toEqual(["part-0.jsonl", "part-1.jsonl", "part-2.jsonl", "part-3.jsonl"])
    expect(fs.readdirSync(out).sort()).toEqual(["part-0.jsonl", "part-1.jsonl", "part-2.jsonl", "part-3.jsonl"])
    expect(rows(path.join(out, "part-0.jsonl"))[0]!.pid).not.toBe(stopped)
  }, 120_000)
})
