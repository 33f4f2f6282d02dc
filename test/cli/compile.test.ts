import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { useTempDirs } from "../TempDirs.ts"

const run = promisify(execFile)
const zephyr = (...args: Array<string>) => run(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8" })
const tempDir = useTempDirs("zephyr-compile-cache-")
/** `zephyr ARGS` with a module cache of its own: the checks and the advice are found, not read from another test's cache. */
const zephyrUncached = (...args: Array<string>) =>
  run(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: tempDir() } })
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
  }, 180_000)

  it("fails with the module's problem on stderr and a non-zero exit", async () => {
    const err = await zephyr("compile", "test/compiler/fixtures/modules/args.ts", "--explain").catch((e) => e)
    expect(err.code).not.toBe(0)
    expect(err.stdout).toBe("")
    expect(err.stderr).toContain('has no export named "default"')
  })

  it("ends the plan with advice, in text and in JSON; none for wordcount; under --no-check only the advice the plan shows", async () => {
    // One module cache for the fixture: its code is read once, then the cache serves every export.
    const cache = tempDir()
    const zephyrCached = (...args: Array<string>) =>
      run(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache } })
    const grouped = "test/compiler/analysis/fixtures/advice/groupby-without-combiner.ts"
    const line = lineOf(grouped, "export const selfCombining")
    const text = await zephyrCached("compile", grouped, "--export", "selfCombining", "--explain")
    expect(text.stdout).toMatch(/^plan [0-9a-f]{16}  2 stages\n/)
    const advice = text.stdout.slice(text.stdout.indexOf("\nadvice\n") + 1).split("\n")
    expect(advice[0]).toBe("advice")
    expect(advice[1]).toMatch(new RegExp(`^  o2    groupby-without-combiner in stage 0 +${grouped}:${line}:36$`))
    expect(advice[2]).toMatch(/^ {8}The reducer sumCounts only sums `count`, yet with no combiner every item crosses the shuffle/)
    expect(advice[3]).toBe("        fix: Add `combiner: (word, items) => [sumCounts(word, items)]` to the groupBy's options: sumCounts returns an item of its input type, so it can sum partial groups map-side too.")

    const json = JSON.parse((await zephyrCached("compile", grouped, "--export", "total", "--explain", "--format", "json")).stdout)
    expect(json.version).toBe(1)
    expect(json.advice).toEqual([{
      code: "groupby-without-combiner", op: "o1", stage: 0, file: grouped, line: lineOf(grouped, "export const total") + 1, column: 4,
      message: expect.stringMatching(/^The reducer of this groupBy only sums `amount`/),
      fix: expect.stringContaining("combiner: (user, events) => {")
    }])
    expect(json.diagnostics).toEqual([])

    const clean = await zephyr("compile", "examples/wordcount.ts", "--explain")
    expect(clean.stdout).not.toContain("\nadvice\n")
    expect(JSON.parse((await zephyr("compile", "examples/wordcount.ts", "--explain", "--format", "json")).stdout).advice).toEqual([])

    // Without the checks the code is not read: a reducer's advice needs it, a gather's does not.
    const gathered = "test/compiler/analysis/fixtures/advice/gather-after-async.ts"
    expect((await zephyrUncached("compile", grouped, "--export", "selfCombining", "--explain", "--no-check")).stdout).not.toContain("\nadvice\n")
    const unchecked = await zephyrUncached("compile", gathered, "--export", "rightAfter", "--explain", "--no-check")
    expect(unchecked.stdout).toContain(`\nadvice\n  o2    gather-after-async in stage 0`)
    expect(unchecked.stdout).toContain(`${gathered}:${lineOf(gathered, "mapShard((docs) =>")}:4\n`)
  }, 240_000)
})
