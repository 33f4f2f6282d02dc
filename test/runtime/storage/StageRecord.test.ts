import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as RunFile from "../../../runtime/shuffle/RunFile.ts"
import * as BlockFile from "../../../runtime/storage/BlockFile.ts"
import * as StageRecord from "../../../runtime/storage/StageRecord.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tempDir = useTempDirs("zephyr-stagerecord-")

const origin: StageRecord.Origin = {
  fingerprint: "f".repeat(16),
  reads: { "0": "a".repeat(16), "2": "b".repeat(16) },
  upstream: { "0": "record-0", "2": "record-2" },
  entry: { export: null, args: { n: "1" } },
  inputs: [{ path: "/data/a.jsonl", size: 10, mtimeMs: 1_000 }, { path: "/data/b.jsonl", size: 20, mtimeMs: 2_000 }]
}

describe("StageRecord.difference", () => {
  it.each<[string, Partial<StageRecord.Origin>, RegExp | undefined]>([
    ["the same origin", {}, undefined],
    ["its own code changed", { fingerprint: "e".repeat(16) }, /^its code changed$/],
    ["a stage it reads changed", { fingerprint: "e".repeat(16), reads: { ...origin.reads, "2": "c".repeat(16) } }, /^stage 2, which it reads, changed$/],
    ["two stages it reads changed", { fingerprint: "e".repeat(16), reads: { "0": "c".repeat(16), "2": "c".repeat(16) } }, /^stages 0 and 2, which it reads, changed$/],
    ["a stage it reads ran again", { upstream: { ...origin.upstream, "0": "record-0-again" } }, /^stage 0, which it reads, ran again$/],
    ["an arg and the code changed: the args are named", { fingerprint: "e".repeat(16), entry: { export: null, args: { n: "2" } } }, /the pipeline's arguments changed: --arg n changed/],
    ["another export", { entry: { export: "other", args: { n: "1" } } }, /the module export changed \(default then, other now\)/],
    ["another arg value", { entry: { export: null, args: { n: "2" } } }, /the pipeline's arguments changed: --arg n changed/],
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
    const id = StageRecord.write(dir, 0, origin, outputs)
    expect(StageRecord.check(dir, 0, origin)).toEqual({ kind: "valid", outputs, id })
    expect(StageRecord.write(dir, 0, origin, outputs)).not.toBe(id) // every record has an id of its own
    expect(StageRecord.check(dir, 0, { ...origin, fingerprint: "0".repeat(16) })).toEqual({ kind: "stale", reason: "its code changed" })
    fs.rmSync(chunk)
    expect(StageRecord.check(dir, 0, origin)).toEqual({ kind: "stale", reason: `its chunk file ${chunk} is missing` })
    fs.writeFileSync(path.join(dir, "stages", "stage-0.json"), "not msgpack at all")
    expect(StageRecord.check(dir, 0, origin)).toMatchObject({ kind: "stale" })
  })

  it("takes a record of the previous format (which held the whole plan's fingerprint and source hashes) for stale", () => {
    const dir = tempDir()
    const old = { format: "zephyr-stage/2", fingerprint: "f".repeat(16), entry: origin.entry, sources: {}, inputs: null, outputs: [] }
    fs.mkdirSync(path.join(dir, "stages"), { recursive: true })
    fs.writeFileSync(path.join(dir, "stages", "stage-0.json"), BlockFile.encode(old))
    expect(StageRecord.check(dir, 0, origin)).toEqual({ kind: "stale", reason: `its record ${path.join(dir, "stages", "stage-0.json")} was written by another version of Zephyr` })
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
