import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { useTempDirs } from "../TempDirs.ts"

const exec = promisify(execFile)
const zephyr = (...args: Array<string>) => exec(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8" })
const tempDir = useTempDirs("zephyr-gc-cli-")

/** A kept execution, as a failed run leaves it, last used `days` ago. */
const kept = (chunks: string, id: string, days: number) => {
  const dir = path.join(chunks, id)
  fs.mkdirSync(path.join(dir, "stages"), { recursive: true })
  const marker = path.join(dir, "zephyr-execution.json")
  fs.writeFileSync(marker, JSON.stringify({ format: "zephyr-execution/1", executionId: id, created: "2020-01-01T00:00:00.000Z" }))
  const when = new Date(Date.now() - days * 86_400_000)
  fs.utimesSync(marker, when, when)
}

describe("zephyr gc", { timeout: 120_000 }, () => {
  it("removes old executions of the chunk directory and reports what it removed and kept", async () => {
    const chunks = tempDir()
    kept(chunks, "old-run", 9)
    kept(chunks, "recent-run", 2)
    fs.mkdirSync(path.join(chunks, "not-ours"))

    const dry = await zephyr("gc", "--chunk-dir", chunks, "--dry-run")
    expect(dry.stdout).toContain("would remove  old-run  (last used 9d 0h ago)")
    expect(dry.stdout).toContain(`${chunks}: would remove 1, keep 2 (dry run: nothing removed)`)
    expect(fs.readdirSync(chunks).sort()).toEqual(["not-ours", "old-run", "recent-run"])

    const { stdout } = await zephyr("gc", "--chunk-dir", chunks)
    expect(stdout.split("\n")).toEqual([
      "kept     not-ours  (no zephyr-execution.json marker: not created by Zephyr)",
      "removed  old-run  (last used 9d 0h ago)",
      "kept     recent-run  (last used 2d 0h ago, younger than 7d 0h)",
      `${chunks}: removed 1, kept 2`,
      ""
    ])
    expect(fs.readdirSync(chunks).sort()).toEqual(["not-ours", "recent-run"])

    const sooner = await zephyr("gc", "--chunk-dir", chunks, "--older-than", "1d")
    expect(sooner.stdout).toContain(`${chunks}: removed 1, kept 1`)
    expect(fs.readdirSync(chunks)).toEqual(["not-ours"])
  })

  it("refuses a bad --older-than", async () => {
    const err = await zephyr("gc", "--chunk-dir", tempDir(), "--older-than", "soon").catch((e) => e)
    expect(err.code).not.toBe(0)
    expect(err.stderr).toContain('Invalid option --older-than: "soon"')
  })
})
