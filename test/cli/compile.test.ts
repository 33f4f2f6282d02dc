import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"

const run = promisify(execFile)
const zephyr = (...args: Array<string>) => run(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8" })
const lineOf = (file: string, needle: string) => fs.readFileSync(file, "utf8").split("\n").findIndex((l) => l.includes(needle)) + 1

describe("zephyr compile --explain", () => {
  it("prints the wordcount plan as JSON: one fused map stage, the groupBy boundary explained, source lines", async () => {
    const { stdout } = await zephyr("compile", "examples/wordcount.ts", "--explain", "--format", "json")
    const plan = JSON.parse(stdout)
    expect(plan.version).toBe(1)
    expect(plan.stages.map((s: any) => s.kind)).toEqual(["map", "reduce"])
    const [map, reduce] = plan.stages
    expect(map.ops.map((o: any) => [o.kind, o.role ?? null])).toEqual([["loadText", null], ["flatMap", null], ["groupBy", "scatter"]])
    expect(reduce.ops.map((o: any) => [o.kind, o.role ?? null, o.format ?? null])).toEqual([["groupBy", "reduce", null], ["write", null, "jsonl"]])
    expect(map.boundary).toEqual({ reason: "shuffle", detail: "shuffle: groupBy(byWord) → 4 shards" })
    expect(map.shards).toEqual({ in: 4, out: 4 })
    expect(reduce.boundary.reason).toBe("end")
    const file = "examples/wordcount.ts"
    expect(map.ops[1].source).toMatchObject({ file, line: lineOf(file, ".flatMap(splitWords)") })
    expect(map.ops[2].source.line).toBe(lineOf(file, ".groupBy(byWord"))
    expect(reduce.ops[1].source.line).toBe(lineOf(file, ".writeJsonl("))
    expect(map.ops[1].name).toBe("splitWords")
  })

  it("prints text by default and DOT on request, and honours --export and --arg", async () => {
    const text = await zephyr("compile", "test/compiler/fixtures/modules/args.ts", "--explain", "--export", "numbers", "--arg", "shards=7")
    expect(text.stdout).toMatch(/^plan [0-9a-f]{16}  2 stages\nstage 0  map  6 → 7 shards\n/)
    expect(text.stdout).toContain("ends  shuffle: groupBy → 7 shards")
    const dot = await zephyr("compile", "examples/join.ts", "--explain", "--format", "dot")
    expect(dot.stdout).toMatch(/^digraph "zephyr-[0-9a-f]{16}" \{/)
    expect(dot.stdout).toContain('s2 -> s3 [label="join", style=bold];')
  })

  it("fails with the module's problem on stderr and a non-zero exit", async () => {
    const err = await zephyr("compile", "test/compiler/fixtures/modules/args.ts", "--explain").catch((e) => e)
    expect(err.code).not.toBe(0)
    expect(err.stdout).toBe("")
    expect(err.stderr).toContain('has no export named "default"')
  })
})
