import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as RunFile from "../../../runtime/shuffle/RunFile.ts"
import * as StageRecord from "../../../runtime/storage/StageRecord.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tempDir = useTempDirs("zephyr-stagerecord-")

const origin: StageRecord.Origin = {
  fingerprint: "f".repeat(64),
  entry: { export: null, args: { n: "1" } },
  sources: { "pipe.ts": "aaa", "lib/score.ts": "bbb" },
  inputs: [{ path: "/data/a.jsonl", size: 10, mtimeMs: 1_000 }, { path: "/data/b.jsonl", size: 20, mtimeMs: 2_000 }]
}

describe("StageRecord.difference", () => {
  it.each<[string, Partial<StageRecord.Origin>, RegExp | undefined]>([
    ["the same origin", {}, undefined],
    ["another plan", { fingerprint: "e".repeat(64) }, /the plan changed \(fingerprint ffffffffffff then, eeeeeeeeeeee now\)/],
    ["another export", { entry: { export: "other", args: { n: "1" } } }, /the module export changed \(default then, other now\)/],
    ["another arg value", { entry: { export: null, args: { n: "2" } } }, /the pipeline's arguments changed: --arg n changed/],
    ["a changed local file", { sources: { "pipe.ts": "aaa", "lib/score.ts": "ccc" } }, /the pipeline module's source changed: lib\/score\.ts changed/],
    ["a new local file", { sources: { ...origin.sources, "extra.ts": "ddd" } }, /extra\.ts is new/],
    ["a changed size", { inputs: [{ path: "/data/a.jsonl", size: 11, mtimeMs: 1_000 }, origin.inputs![1]!] }, /its input files changed: \/data\/a\.jsonl changed size \(10 → 11 bytes\)/],
    ["a changed mtime", { inputs: [origin.inputs![0]!, { path: "/data/b.jsonl", size: 20, mtimeMs: 3_000 }] }, /\/data\/b\.jsonl was modified/],
    ["a removed file", { inputs: [origin.inputs![0]!] }, /\/data\/b\.jsonl is gone/],
    ["an added file", { inputs: [...origin.inputs!, { path: "/data/c.jsonl", size: 1, mtimeMs: 1 }] }, /\/data\/c\.jsonl is new/]
  ])("%s", (_name, change, expected) => {
    const reason = StageRecord.difference(origin, { ...origin, ...change })
    if (expected === undefined) expect(reason).toBeUndefined()
    else expect(reason).toMatch(expected)
  })
})

describe("StageRecord.check", () => {
  it("gives back the outputs of a matching record whose chunk files exist; absent, stale or missing chunks otherwise", () => {
    const dir = tempDir()
    expect(StageRecord.check(dir, 0, origin)).toEqual({ kind: "absent" })
    const chunk = path.join(dir, "stage-0", "shard-0", "a0.blk")
    fs.mkdirSync(path.dirname(chunk), { recursive: true })
    fs.writeFileSync(chunk, "x")
    const outputs = [{ kind: "chunks" as const, refs: [{ kind: "file" as const, path: chunk, count: 1, skip: 0, take: 1 }] }]
    StageRecord.write(dir, 0, origin, outputs)
    expect(StageRecord.check(dir, 0, origin)).toEqual({ kind: "valid", outputs })
    expect(StageRecord.check(dir, 0, { ...origin, fingerprint: "0".repeat(64) })).toMatchObject({ kind: "stale", reason: expect.stringContaining("the plan changed") })
    fs.rmSync(chunk)
    expect(StageRecord.check(dir, 0, origin)).toEqual({ kind: "stale", reason: `its chunk file ${chunk} is missing` })
    fs.writeFileSync(path.join(dir, "stages", "stage-0.json"), "not msgpack at all")
    expect(StageRecord.check(dir, 0, origin)).toMatchObject({ kind: "stale" })
  })

  it("checks a scatter output's manifest and the size of every run it lists", () => {
    const dir = tempDir()
    const manifest = path.join(dir, "manifest.json")
    const run = path.join(dir, "run-0.zrun")
    fs.writeFileSync(run, Buffer.alloc(100))
    RunFile.writeManifest(manifest, { format: RunFile.FORMAT, numTargets: 1, sorted: false, items: 1, bytes: 100, itemsPerTarget: [1], runs: [{ file: "run-0.zrun", bytes: 100, maxBlock: 100, segments: [[0, 0, 100, 1]] }] })
    const outputs = [{ kind: "scatter" as const, manifest, itemsPerTarget: [1] }]
    expect(StageRecord.missingChunks(outputs)).toBeUndefined()
    fs.truncateSync(run, 50)
    expect(StageRecord.missingChunks(outputs)).toBe(`its shuffle run ${run} is missing or truncated`)
    fs.rmSync(manifest)
    expect(StageRecord.missingChunks(outputs)).toBe(`its shuffle manifest ${manifest} is missing`)
  })
})
