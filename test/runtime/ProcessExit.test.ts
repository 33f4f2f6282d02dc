import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

const root = path.resolve(import.meta.dirname, "../..")

describe("ProcessExit.exitAtOnce (a worker's teardown)", () => {
  it("a SIGTERM that comes while the exit handlers run no longer kills the process before the later ones", () => {
    // The first exit handler signals the process itself, as the driver's SIGTERM at the end of
    // a run can land; the second notes that it ran.
    const script = `import { Exit } from "effect"
      import * as ProcessExit from ${JSON.stringify(path.join(root, "runtime/ProcessExit.ts"))}
      process.on("exit", () => process.kill(process.pid, "SIGTERM"))
      process.on("exit", () => process.stdout.write("later handler ran\\n"))
      ProcessExit.exitAtOnce(Exit.void)`
    const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, encoding: "utf8" })
    expect(run.signal).toBe(null)
    expect(run.status).toBe(0)
    expect(run.stdout).toBe("later handler ran\n")
  })
})
