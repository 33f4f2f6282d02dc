import { spawn } from "node:child_process"
import { pathToFileURL } from "node:url"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as WorkerProgram from "../../cli/WorkerProgram.ts"

describe("WorkerProgram: which `zephyr worker` lines start without the command-line parser", () => {
  const saved = process.env.ZEPHYR_TOKEN
  beforeEach(() => { process.env.ZEPHYR_TOKEN = "t" })
  afterEach(() => { if (saved === undefined) delete process.env.ZEPHYR_TOKEN; else process.env.ZEPHYR_TOKEN = saved })

  const plain: ReadonlyArray<readonly [ReadonlyArray<string>, WorkerProgram.WorkerOptions]> = [
    [["--coordinator", "h:1"], { coordinator: "h:1" }],
    [["--coordinator=h:1", "--worker-id", "w7"], { coordinator: "h:1", workerId: "w7" }],
    [["--worker-id=w7", "--coordinator", "h:1", "--reconnect-timeout", "2m", "--token", "x"], { coordinator: "h:1", workerId: "w7", reconnectTimeout: "2m", token: "x" }]
  ]
  for (const [args, options] of plain) it(`${args.join(" ")}: starts at once`, () => { expect(WorkerProgram.plainOptions(args)).toEqual(options) })

  // Each of these goes to the full command line, which explains what is wrong (or prints the help).
  const full: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["no coordinator", ["--worker-id", "w1"]],
    ["--help", ["--coordinator", "h:1", "--help"]],
    ["a flag it does not know", ["--coordinator", "h:1", "--verbose"]],
    ["a global option", ["--coordinator", "h:1", "--log-level", "debug"]],
    ["a missing value", ["--coordinator"]],
    ["a value that is a flag", ["--coordinator", "--worker-id", "w1"]],
    ["a repeated flag", ["--coordinator", "h:1", "--coordinator", "h:2"]],
    ["a bad --reconnect-timeout", ["--coordinator", "h:1", "--reconnect-timeout", "soon"]],
    ["a positional argument", ["--coordinator", "h:1", "extra"]],
    ["a word that names a property of every object", ["--coordinator", "h:1", "constructor", "x"]]
  ]
  for (const [name, args] of full) it(`${name}: the full command line`, () => { expect(WorkerProgram.plainOptions(args)).toBeUndefined() })

  it("no token in the environment nor on the line: the full command line", () => {
    delete process.env.ZEPHYR_TOKEN
    expect(WorkerProgram.plainOptions(["--coordinator", "h:1"])).toBeUndefined()
    expect(WorkerProgram.plainOptions(["--coordinator", "h:1", "--token", "x"])).toEqual({ coordinator: "h:1", token: "x" })
  })
})

describe("zephyr worker, both ways, in real processes", () => {
  // With `withoutParser`, the command-line parser's bundle cannot load (fixtures/without-cli.mjs).
  const withoutParser = ["--import", `data:text/javascript,import{register}from"node:module";register(${JSON.stringify(pathToFileURL("test/cli/fixtures/without-cli.mjs").href)})`]
  const zephyr = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, nodeArgs: ReadonlyArray<string> = []) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [...nodeArgs, "bin/zephyr.js", "worker", ...args], { env: { ...process.env, NO_COLOR: "", ...env }, stdio: ["ignore", "ignore", "pipe"] })
      let stderr = ""
      child.stderr.on("data", (d) => { stderr += d })
      child.on("close", (code) => resolve({ code, stderr }))
    })

  it("a plain line runs without the parser's bundle, and fails as the same line through the parser does: same message, same exit code", async () => {
    const plain = await zephyr(["--coordinator", "nonsense"], { ZEPHYR_TOKEN: "t" })
    // --log-level sends the same worker through @effect/cli.
    const parsed = await zephyr(["--coordinator", "nonsense", "--log-level", "warning"], { ZEPHYR_TOKEN: "t" })
    expect(plain).toEqual({ code: 1, stderr: "zephyr: Invalid coordinator address \"nonsense\": expected HOST:PORT, e.g. 127.0.0.1:7070\n" })
    expect(parsed).toEqual(plain)
    // The plain line never needed the parser; the other one cannot run without it.
    expect(await zephyr(["--coordinator", "nonsense"], { ZEPHYR_TOKEN: "t" }, withoutParser)).toEqual(plain)
    const needsParser = await zephyr(["--coordinator", "nonsense", "--log-level", "warning"], { ZEPHYR_TOKEN: "t" }, withoutParser)
    expect(needsParser.stderr).toContain("dist/cli.js is not available in this test")
  }, 60_000)

  it("--help and mistakes still get the command line's help and messages", async () => {
    const help = await zephyr(["--help"], {})
    expect(help.code).toBe(0)
    const missing = await zephyr(["--coordinator", "127.0.0.1:1"], { ZEPHYR_TOKEN: "" })
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("zephyr worker needs the coordinator's token")
  }, 60_000)
})
