import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { alive, waitFor, workersOf } from "./Processes.ts"

const module = "test/faults/fixtures/resumable.ts"
let dir: string
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-resume-")) })
// A test that fails (or times out) before it stops its driver must not leave it running.
const drivers: Array<ChildProcess> = []
afterEach(() => {
  for (const d of drivers.splice(0)) if (d.exitCode === null && d.signalCode === null) d.kill("SIGKILL")
  fs.rmSync(dir, { recursive: true, force: true })
})

const lines = (file: string) => fs.readFileSync(file, "utf8").trim().split("\n").length

describe("resume after the driver dies", () => {
  it("a driver SIGKILLed mid-run leaves no workers behind, and --resume skips the completed stage", async () => {
    const chunks = path.join(dir, "chunks")
    const common = [module, "--workers", "2", "--chunk-dir", chunks, "--resume", "exec-resume", "--arg", `dir=${dir}`, "--no-progress"]
    const driver = spawn(process.execPath, ["bin/zephyr.js", "run", ...common, "--arg", "block=1"], { stdio: "ignore" })
    drivers.push(driver)
    await waitFor(() => fs.existsSync(path.join(dir, "reached")), "the second stage to start")
    const workers = workersOf(driver.pid!)
    expect(workers.length).toBeGreaterThan(0) // an idle one may already be released (the last stage drains)
    driver.kill("SIGKILL")
    await waitFor(() => workers.every((p) => !alive(p)), "orphaned workers to exit", 15_000)
    expect(lines(path.join(dir, "stage0.log"))).toBe(6)
    expect(fs.existsSync(path.join(chunks, "exec-resume", "stages", "stage-0.json"))).toBe(true)

    const out = execFileSync(process.execPath, ["bin/zephyr.js", "run", ...common, "--arg", "block=0", "--print-results"], { encoding: "utf8" })
    const results = out.trim().split("\n").map((l) => JSON.parse(l)).sort((a, b) => a.key - b.key)
    expect(results).toEqual([{ key: 0, sum: 3 }, { key: 1, sum: 5 }, { key: 2, sum: 7 }])
    expect(lines(path.join(dir, "stage0.log"))).toBe(6) // stage 0 was not run again
    expect(fs.existsSync(path.join(chunks, "exec-resume"))).toBe(false) // removed at the end
  })
})
