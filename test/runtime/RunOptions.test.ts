import { execFileSync } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ZephyrPlanError } from "../../plan/Errors.ts"
import * as RunOptions from "../../runtime/RunOptions.ts"

let saved: string | undefined
beforeEach(() => { saved = process.env.ZEPHYR_CHUNK_DIR; delete process.env.ZEPHYR_CHUNK_DIR })
afterEach(() => { if (saved === undefined) delete process.env.ZEPHYR_CHUNK_DIR; else process.env.ZEPHYR_CHUNK_DIR = saved })

describe("RunOptions.resolve", () => {
  it("defaults the chunk directory to a per-user one under the temp dir, not a shared one", () => {
    const resolved = RunOptions.resolve({}, "local")
    expect(resolved.chunkDir).toBe(path.join(os.tmpdir(), `zephyr-${process.getuid?.() ?? os.userInfo().username}`, "chunks"))
    expect(resolved.chunkDir).not.toBe(path.join(os.tmpdir(), "zephyr-chunks"))
  })

  it("requires a chunk directory for the external backend", () => {
    expect(() => RunOptions.resolve({ backend: "external" }, "local")).toThrow(expect.objectContaining({
      _tag: "ZephyrPlanError", reason: "invalid-option", message: expect.stringContaining("The external backend needs --chunk-dir")
    }))
    expect(RunOptions.resolve({ backend: "external", chunkDir: "/shared/chunks" }, "local").chunkDir).toBe("/shared/chunks")
  })

  it.each(["../victim", "/tmp/victim", "..", ".", "", "a/b", "x".repeat(129), "a b"])("refuses the execution id %j for resume and executionId", (id) => {
    for (const option of ["resume", "executionId"] as const) {
      expect(() => RunOptions.resolve({ chunkDir: "/chunks", [option]: id }, "local")).toThrow(expect.objectContaining({
        reason: "invalid-option", message: expect.stringContaining(`Invalid option ${option}`)
      }))
    }
  })

  it("names the zephyr run flag of the option at fault, as the library's option", () => {
    const bad: Array<[RunOptions.RunOptions, string]> = [
      [{ workers: 0 }, "workers (--workers): 0"],
      [{ memoryBudget: "12XB" }, 'memoryBudget (--memory-budget): "12XB"'],
      [{ heartbeatInterval: "soon" }, 'heartbeatInterval (--heartbeat-interval): "soon"'],
      [{ maxShardFailures: 1.5 }, "maxShardFailures (--max-shard-failures): 1.5"],
      [{ maxConnections: 0 }, "maxConnections (--max-connections): 0"],
      [{ progressInterval: "0s" }, 'progressInterval (--progress-interval): "0s"'],
      [{ chunkDir: "/chunks", executionId: "../x" }, 'executionId (--execution-id): "../x"']
    ]
    for (const [options, named] of bad) expect(() => RunOptions.resolve(options, "local"), named).toThrow(`Invalid option ${named}`)
    // No flag is named that `zephyr run` does not have.
    const help = execFileSync(process.execPath, ["bin/zephyr.js", "run", "--help"], { encoding: "utf8" })
    for (const flag of Object.values(RunOptions.flags)) expect(help, flag).toMatch(new RegExp(`\\[?${flag}\\b`))
  })

  it("takes resume as the run's id, to be found, and executionId as a name", () => {
    expect(RunOptions.resolve({ resume: "run-1" }, "local")).toMatchObject({ executionId: "run-1", resume: true })
    expect(RunOptions.resolve({ executionId: "run-1" }, "local")).toMatchObject({ executionId: "run-1", resume: false })
    expect(() => RunOptions.resolve({ executionId: "a", resume: "b" }, "local")).toThrow(/Invalid option executionId/)
  })

  it("resolves how long a worker dials again after its connection broke: 60s by default, 0 for never", () => {
    expect(RunOptions.resolve({}, "local").reconnectTimeoutMs).toBe(60_000)
    expect(RunOptions.resolve({ reconnectTimeout: "2m" }, "local").reconnectTimeoutMs).toBe(120_000)
    expect(RunOptions.resolve({ reconnectTimeout: 0 }, "local").reconnectTimeoutMs).toBe(0)
    expect(() => RunOptions.resolve({ reconnectTimeout: "soon" }, "local")).toThrow(/Invalid option reconnectTimeout \(--reconnect-timeout\): "soon"/)
  })

  it("parses durations in days", () => {
    expect(RunOptions.parseDuration("older-than", "7d")).toBe(7 * 86_400_000)
  })
})

// An explicit chunk directory: the external backend requires one.
const resolve = (options: RunOptions.RunOptions) => RunOptions.resolve({ chunkDir: os.tmpdir(), ...options }, "local")
const failure = (f: () => unknown): ZephyrPlanError => {
  try {
    f()
  } catch (e) {
    return e as ZephyrPlanError
  }
  throw new Error("expected a failure")
}

describe("run options: where the coordinator listens, and its token", () => {
  let saved: string | undefined
  beforeEach(() => { saved = process.env.ZEPHYR_TOKEN; delete process.env.ZEPHYR_TOKEN })
  afterEach(() => { if (saved === undefined) delete process.env.ZEPHYR_TOKEN; else process.env.ZEPHYR_TOKEN = saved })

  it("listens on loopback by default", () => {
    expect(RunOptions.defaults.listen).toBe("127.0.0.1:7070")
    expect(resolve({ backend: "external" })).toMatchObject({ listen: "127.0.0.1:7070", token: undefined })
  })

  it("refuses an address off loopback without a token, with a sentence that says what to do", () => {
    for (const listen of ["0.0.0.0:7070", "10.1.2.3:7070", "[::]:7070", "driver-host:7070"]) {
      const e = failure(() => resolve({ backend: "external", listen }))
      expect(e).toBeInstanceOf(ZephyrPlanError)
      expect(e.reason).toBe("invalid-option")
      expect(e.message).toContain(`Invalid option listen (--listen): ${JSON.stringify(listen)}`)
      expect(e.message).toContain("ZEPHYR_TOKEN")
    }
  })

  it("takes the token from the option or from $ZEPHYR_TOKEN, and never shows a bad one", () => {
    expect(resolve({ backend: "external", listen: "0.0.0.0:7070", token: "from-option" }).token).toBe("from-option")
    process.env.ZEPHYR_TOKEN = "from-env"
    expect(resolve({ backend: "external", listen: "0.0.0.0:7070" }).token).toBe("from-env")
    expect(resolve({ backend: "external", listen: "0.0.0.0:7070", token: "from-option" }).token).toBe("from-option")
    expect(failure(() => resolve({ backend: "external", token: "" })).message).toBe("Invalid option token (--token): expected a non-empty string (or leave it and $ZEPHYR_TOKEN unset).")
    // Loopback addresses need none.
    delete process.env.ZEPHYR_TOKEN
    for (const listen of ["127.0.0.1:0", "localhost:7070", "[::1]:7070", "127.8.9.10:1"]) expect(resolve({ backend: "external", listen }).token).toBeUndefined()
  })

  it("applies the same rules to the slurm backend, whose workers dial in from the cluster's nodes", () => {
    expect(() => RunOptions.resolve({ backend: "slurm" }, "local")).toThrow(expect.objectContaining({
      reason: "invalid-option", message: expect.stringContaining("The slurm backend needs --chunk-dir")
    }))
    expect(failure(() => resolve({ backend: "slurm", listen: "0.0.0.0:0" })).message).toContain("needs a token its workers must present")
    expect(resolve({ backend: "slurm", listen: "0.0.0.0:0", token: "t0k" })).toMatchObject({ listen: "0.0.0.0:0", token: "t0k" })
    expect(resolve({ backend: "slurm", listen: "127.0.0.1:0" }).token).toBeUndefined()
  })

  it("resolves the slurm options, the memory per worker checked against the worker heap of the memory budget", () => {
    expect(resolve({ backend: "slurm", slurm: { partition: "batch", time: "2h", cpusPerWorker: 4, memoryPerWorker: "8GiB", sbatchArgs: ["--qos=high"] } }).slurm)
      .toEqual({ partition: "batch", time: "0-02:00:00", cpusPerWorker: 4, memoryMegabytes: 8192, sbatchArgs: ["--qos=high"] })
    expect(failure(() => resolve({ backend: "slurm", memoryBudget: "1GiB", slurm: { memoryPerWorker: "1GiB" } })).message)
      .toContain("at least a worker's V8 heap (1152 MiB: memoryBudget + 128 MiB)")
    expect(failure(() => resolve({ backend: "local", slurm: { time: "1h" } })).message).toContain("only the slurm backend uses it")
  })

  it("checks the message size limit", () => {
    expect(resolve({}).maxMessageBytes).toBe(1 << 20)
    expect(resolve({ maxMessageSize: "4MiB" }).maxMessageBytes).toBe(4 << 20)
    expect(failure(() => resolve({ maxMessageSize: "1KiB" })).message).toContain("Invalid option maxMessageSize")
    expect(failure(() => resolve({ maxConnections: 0 })).message).toContain("Invalid option maxConnections")
  })
})

describe("run options: the dashboard's token", () => {
  let savedToken: string | undefined
  beforeEach(() => { savedToken = process.env.ZEPHYR_DASHBOARD_TOKEN; delete process.env.ZEPHYR_DASHBOARD_TOKEN })
  afterEach(() => { if (savedToken === undefined) delete process.env.ZEPHYR_DASHBOARD_TOKEN; else process.env.ZEPHYR_DASHBOARD_TOKEN = savedToken })
  it("comes from the option or $ZEPHYR_DASHBOARD_TOKEN (else the dashboard makes one up), URL-safe and long enough, and a bad one is never shown", () => {
    expect(resolve({ dashboard: 0 }).dashboardToken).toBeUndefined()
    expect(resolve({ dashboard: 0, dashboardToken: "from-option-0123456789" }).dashboardToken).toBe("from-option-0123456789")
    process.env.ZEPHYR_DASHBOARD_TOKEN = "from-env-0123456789"
    expect(resolve({ dashboard: 0 }).dashboardToken).toBe("from-env-0123456789")
    expect(resolve({}).dashboardToken).toBeUndefined() // no dashboard, no token
    for (const bad of ["short", "has space 0123456789", "semi;colon-0123456789", "plus+sign-0123456789"]) {
      const e = failure(() => resolve({ dashboard: 0, dashboardToken: bad }))
      expect(e).toBeInstanceOf(ZephyrPlanError)
      expect(e.reason).toBe("invalid-option")
      expect(e.message).toContain("ZEPHYR_DASHBOARD_TOKEN")
      expect(e.message).not.toContain(bad)
    }
    process.env.ZEPHYR_DASHBOARD_TOKEN = "bad"
    expect(resolve({}).dashboard).toBeUndefined() // checked only when a dashboard is asked for
    expect(failure(() => resolve({ dashboard: 0 })).message).toContain("ZEPHYR_DASHBOARD_TOKEN")
  })
})
