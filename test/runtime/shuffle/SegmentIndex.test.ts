import fc from "fast-check"
import * as fs from "node:fs"
import * as path from "node:path"
import { Schema } from "effect"
import { Packr, Unpackr } from "msgpackr"
import { describe, expect, it } from "vitest"
import { ScatterIndex, Task } from "../../../rpc/Protocol.ts"
import { readManifest } from "../../../runtime/shuffle/RunFile.ts"
import { ScatterWriter } from "../../../runtime/shuffle/ScatterWriter.ts"
import * as SegmentIndex from "../../../runtime/shuffle/SegmentIndex.ts"
import { groups, merged } from "../../../runtime/shuffle/ShuffleReader.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tmp = useTempDirs("zephyr-segment-index-")

const M = 6
const R = 5

/** M mappers of R targets; a small memory budget makes some of them spill several runs. */
const scatterAll = (root: string) =>
  Array.from({ length: M }, (_, m) => {
    const w = new ScatterWriter({
      dir: path.join(root, `map-${m}`), numTargets: R, key: (x) => (x as { k: number }).k,
      sortBy: undefined, combiner: undefined, memoryBudgetBytes: m % 2 === 0 ? 20_000 : 64 << 20
    })
    for (let i = 0; i < 400; i++) w.add([{ k: (i * 7 + m) % 23, m, i, pad: "x".repeat(20) }])
    const out = w.finish()
    const index = SegmentIndex.ofRuns(out.runs, out.sorted)
    if (index === undefined) throw new Error("expected an index")
    return { kind: "scatter" as const, manifest: out.manifest, index }
  })

const readOptions = (root: string) => ({ tmpDir: path.join(root, "merge"), memoryBudgetBytes: 64 << 20 })
const materialise = (g: Iterable<readonly [unknown, Iterable<unknown>]>) => [...g].map(([k, items]) => [k, [...items]] as const)

describe("per-reducer segment lists", () => {
  it("hand each reducer only its own target's segments: the lists add up to the mappers' segments, and no manifest is read", async () => {
    const root = tmp()
    const mappers = scatterAll(root)
    const manifests = mappers.map((m) => m.manifest)
    const expected = Array.from({ length: R }, (_, t) => materialise(groups(manifests, t, readOptions(root))))
    // Every (run, target) segment of every manifest, as "file@offset".
    const all = new Map<string, number>()
    for (const file of manifests) {
      const m = readManifest(file)
      for (const run of m.runs) for (const [t, offset] of run.segments) all.set(`${path.join(path.dirname(file), run.file)}@${offset}`, t)
    }
    expect(mappers.some((m) => m.index.runs.length > 1)).toBe(true)

    const inputs = await SegmentIndex.byTarget(mappers, R, () => { throw new Error("a reported index needs no manifest") })
    // Reducers need no manifest at all: remove them.
    for (const file of manifests) fs.rmSync(file)
    let listed = 0
    inputs.forEach((input, t) => {
      expect(input.target).toBe(t)
      const segments = SegmentIndex.segmentsOf(input, root)
      listed += segments.length
      for (const s of segments) expect(all.get(`${s.file}@${s.offset}`)).toBe(t)
      expect(materialise(merged(segments, input.sorted, readOptions(root)))).toEqual(expected[t])
    })
    // O(M·R) metadata across the shuffle: each segment is handed to exactly one reducer.
    expect(listed).toBe(all.size)
  })

  it("a mapper that did not report its segments is read from its manifest, with the same lists", async () => {
    const root = tmp()
    const mappers = scatterAll(root)
    const reported = await SegmentIndex.byTarget(mappers, R, () => { throw new Error("unused") })
    const reads: Array<string> = []
    const fromManifests = await SegmentIndex.byTarget(mappers.map(({ kind, manifest }) => ({ kind, manifest })), R, (file) => {
      reads.push(file)
      return SegmentIndex.ofManifest(readManifest(file))
    })
    expect(fromManifests).toEqual(reported)
    expect(reads).toEqual(mappers.map((m) => m.manifest))
  })

  it("a mapper with too many segments to report leaves them out of its report", () => {
    const run = (n: number) => ({ file: "run-0.zrun", bytes: 1, maxBlock: 1, segments: Array.from({ length: n }, (_, t) => [t, t, 1, 1] as const) })
    expect(SegmentIndex.ofRuns([run(SegmentIndex.MAX_REPORTED_SEGMENTS)], false)?.segments.length).toBe(SegmentIndex.MAX_REPORTED_SEGMENTS * SegmentIndex.INDEX_STRIDE)
    expect(SegmentIndex.ofRuns([run(SegmentIndex.MAX_REPORTED_SEGMENTS), run(1)], false)).toBeUndefined()
  })

  it("a target out of range is an error naming the manifest", async () => {
    const bad = { kind: "scatter" as const, manifest: "/x/manifest.json", index: { sorted: false, runs: [["run-0.zrun", 1] as const], segments: Float64Array.of(0, 7, 0, 1, 1) } }
    await expect(SegmentIndex.byTarget([bad], 3, () => bad.index)).rejects.toThrow(/target 7 out of range: \/x\/manifest\.json/)
  })
})

/** The segments of a target as "path@offset+length#count^maxBlock", sorted: what a reducer reads, whatever the order. */
const described = (segments: ReadonlyArray<{ file: string; offset: number; length: number; count: number; maxBlock: number }>) =>
  segments.map((s) => `${s.file}@${s.offset}+${s.length}#${s.count}^${s.maxBlock}`).sort()

/** How the coordinator dealt segments out before the lists were lazy: every segment of every mapper, by target, at once. */
const dealtEagerly = (mappers: ReadonlyArray<{ manifest: string; index: ScatterIndex }>, targets: number) => {
  const out = Array.from({ length: targets }, () => [] as Array<{ file: string; offset: number; length: number; count: number; maxBlock: number }>)
  for (const m of mappers) {
    const seg = m.index.segments
    for (let i = 0; i < seg.length; i += 5) {
      const [file, maxBlock] = m.index.runs[seg[i]!]!
      out[seg[i + 1]!]!.push({ file: path.join(path.dirname(m.manifest), file), offset: seg[i + 2]!, length: seg[i + 3]!, count: seg[i + 4]!, maxBlock })
    }
  }
  return out.map(described)
}

const EXEC = "/chunks/exec-1"

/** A mapper: some runs, each with a segment for some targets (in any order), under its own directory of the execution. */
const mapperArb = (targets: number) =>
  fc.record({
    stage: fc.constantFrom("stage-0/scatter", "stage-2/scatter"),
    runs: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: targets - 1 }), { maxLength: targets }), { minLength: 1, maxLength: 4 }),
    shuffled: fc.boolean(),
    seed: fc.integer()
  })

describe("lazy per-reducer lists", () => {
  it("give every target the same segments as dealing them all out at once, in any order of mappers, runs and segments", async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 12 }).chain((targets) =>
      fc.tuple(fc.constant(targets), fc.array(mapperArb(targets), { maxLength: 8 }))
    ), async ([targets, specs]) => {
      const mappers = specs.map((spec, m) => {
        const rows: Array<Array<number>> = []
        spec.runs.forEach((ts, r) => {
          for (const t of [...ts].sort((a, b) => a - b)) rows.push([r, t, 1000 * r + 10 * t + m, 7 + t, 1 + ((t + m) % 5)])
        })
        // A reported index is in run then target order; an index read from elsewhere may not be.
        if (spec.shuffled) rows.sort((a, b) => ((a[0]! * 31 + a[1]! * 17 + spec.seed) % 7) - ((b[0]! * 31 + b[1]! * 17 + spec.seed) % 7))
        const index: ScatterIndex = {
          sorted: false,
          runs: spec.runs.map((_, r) => [`run-${r}-x.zrun`, 100 + r] as const),
          segments: Float64Array.from(rows.flat())
        }
        return { kind: "scatter" as const, manifest: `${EXEC}/${spec.stage}/shard-${m}-a0-abc/manifest-x.json`, index }
      })
      const lists = await SegmentIndex.lists(mappers, targets, () => { throw new Error("reported") })
      const expected = dealtEagerly(mappers, targets)
      for (let t = 0; t < targets; t++) {
        const input = lists.inputOf(t)
        expect(input.target).toBe(t)
        expect(lists.counts[t]).toBe(expected[t]!.length)
        expect(described(SegmentIndex.segmentsOf(input, EXEC))).toEqual(expected[t])
      }
    }), { numRuns: 200 })
  })

  it("hand a reduce stage's inputs over deferred: a target's list is built only when its task is handed out", async () => {
    const segments = Float64Array.of(0, 0, 0, 10, 1, 0, 1, 10, 20, 2)
    const mappers = [0, 1].map((m) => ({ kind: "scatter" as const, manifest: `${EXEC}/stage-0/scatter/shard-${m}-a0-abc/manifest-x.json`, index: { sorted: true, runs: [["run-0-x.zrun", 64] as const], segments } }))
    const lists = await SegmentIndex.lists(mappers, 2, () => { throw new Error("reported") })
    const deferred = SegmentIndex.deferredInputs(lists)
    expect(deferred.map((d) => [d.kind, d.target])).toEqual([["deferred-shuffle", 0], ["deferred-shuffle", 1]])
    expect(SegmentIndex.inputBytes(deferred[1]!)).toBeGreaterThan(2 * 5 * 8)
    const input = SegmentIndex.handedOut(deferred[1]!)
    expect(input).toMatchObject({ kind: "shuffle", target: 1, sorted: true, dir: `${EXEC}/stage-0/scatter`, files: "shard-0-a0-abc/run-0-x.zrun\nshard-1-a0-abc/run-0-x.zrun" })
    expect([...(input as SegmentIndex.ShuffleInput).segments]).toEqual([0, 10, 20, 2, 64, 1, 10, 20, 2, 64])
  })
})

describe("the reduce task's wire form", () => {
  const packr = new Packr()
  const unpackr = new Unpackr()
  const encode = (task: Task) => packr.pack(Schema.encodeSync(Task)(task))
  const decode = (bytes: Uint8Array) => Schema.decodeUnknownSync(Task)(unpackr.unpack(bytes))
  const task = (input: Task["input"]): Task => ({ executionId: "exec-1", stage: 1, generation: 2, shard: 0, totalShards: 3, attempt: 0, input })
  const shuffle = (over: Partial<SegmentIndex.ShuffleInput> = {}): SegmentIndex.ShuffleInput => ({
    kind: "shuffle", target: 0, sorted: false, dir: `${EXEC}/stage-0/scatter`,
    files: "shard-0-a0-abc/run-00000-x.zrun\nshard-1-a0-abc/run-00000-x.zrun",
    segments: Float64Array.of(0, 2 ** 40, 4096, 10, 131_072, 1, 0, 1, 1, 7), ...over
  })

  it("round-trips through Schema and msgpack: packed numbers (above 2^32 too), run files relative to one directory", () => {
    const bytes = encode(task(shuffle()))
    const got = decode(bytes)
    expect(got.input).toEqual(shuffle())
    expect(got.input.kind === "shuffle" && got.input.segments).toBeInstanceOf(Float64Array)
    expect(SegmentIndex.segmentsOf(got.input as SegmentIndex.ShuffleInput, EXEC)).toEqual([
      { file: `${EXEC}/stage-0/scatter/shard-0-a0-abc/run-00000-x.zrun`, offset: 2 ** 40, length: 4096, count: 10, maxBlock: 131_072, sorted: false },
      { file: `${EXEC}/stage-0/scatter/shard-1-a0-abc/run-00000-x.zrun`, offset: 0, length: 1, count: 1, maxBlock: 7, sorted: false }
    ])
    // A mapper's report: the same packed form.
    const index: ScatterIndex = { sorted: true, runs: [["run-0.zrun", 9]], segments: Float64Array.of(0, 3, 0, 5, 1) }
    expect(Schema.decodeUnknownSync(ScatterIndex)(unpackr.unpack(packr.pack(Schema.encodeSync(ScatterIndex)(index))))).toEqual(index)
  })

  it("an object storage directory works the same way", () => {
    const input = shuffle({ dir: "s3://bucket/chunks/exec-1/stage-0/scatter" })
    expect(SegmentIndex.segmentsOf(input, "s3://bucket/chunks/exec-1").map((s) => s.file)).toEqual([
      "s3://bucket/chunks/exec-1/stage-0/scatter/shard-0-a0-abc/run-00000-x.zrun",
      "s3://bucket/chunks/exec-1/stage-0/scatter/shard-1-a0-abc/run-00000-x.zrun"
    ])
  })

  it("packed numbers that are not whole float64s are refused when decoded", () => {
    const wire = Schema.encodeSync(Task)(task(shuffle())) as unknown as { input: { segments: Uint8Array } }
    const bad = { ...wire, input: { ...wire.input, segments: wire.input.segments.subarray(0, 13) } }
    expect(() => Schema.decodeUnknownSync(Task)(bad)).toThrow(/multiple of 8 bytes, not 13/)
  })

  const refused: ReadonlyArray<readonly [string, Partial<SegmentIndex.ShuffleInput>, string | RegExp]> = [
    ["a directory outside the execution's", { dir: "/etc" }, /run files are in "\/etc", outside the execution's directory \/chunks\/exec-1/],
    ["a directory climbing out of it", { dir: `${EXEC}/../exec-2/stage-0` }, /outside the execution's directory/],
    ["a sibling execution whose name starts the same", { dir: `${EXEC}0/stage-0` }, /outside the execution's directory/],
    ["a relative directory", { dir: "chunks/exec-1" }, /outside the execution's directory/],
    ["an object storage directory for a local execution", { dir: "s3://bucket/chunks/exec-1" }, /outside the execution's directory/],
    ["a name climbing out", { files: "../../../etc/passwd\nshard-1/run.zrun" }, /"..\/..\/..\/etc\/passwd" is not a run file's name/],
    ["an absolute name", { files: "/etc/passwd\nshard-1/run.zrun" }, /"\/etc\/passwd" is not a run file's name/],
    ["a file index out of range", { segments: Float64Array.of(2, 0, 1, 1, 1) }, /segment 0 names file 2 of 2/],
    ["a fractional offset", { segments: Float64Array.of(0, 0.5, 1, 1, 1) }, /segment 0 holds 0.5, not a whole number/],
    ["a negative length", { segments: Float64Array.of(0, 0, 1, 1, 1, 1, 0, -1, 1, 1) }, /segment 1 holds -1/],
    ["NaN", { segments: Float64Array.of(0, 0, Number.NaN, 1, 1) }, /holds NaN/],
    ["a list that is not 5 numbers a segment", { segments: Float64Array.of(0, 0, 1, 1) }, /holds 4 numbers, not 5 per segment/]
  ]
  for (const [what, over, message] of refused) {
    it(`a worker refuses a reduce task with ${what} (invalid-task)`, () => {
      let error: unknown
      try {
        SegmentIndex.segmentsOf(shuffle(over), EXEC)
      } catch (e) {
        error = e
      }
      expect(error).toMatchObject({ _tag: "ZephyrWorkerError", reason: "invalid-task" })
      expect((error as Error).message).toMatch(/^Malformed reduce task for shuffle target 0: /)
      expect((error as Error).message).toMatch(message)
    })
  }
})
