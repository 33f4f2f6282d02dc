import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
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
      const segments = SegmentIndex.segmentsOf(input)
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
    const bad = { kind: "scatter" as const, manifest: "/x/manifest.json", index: { sorted: false, runs: [["run-0.zrun", 1] as const], segments: [0, 7, 0, 1, 1] } }
    await expect(SegmentIndex.byTarget([bad], 3, () => bad.index)).rejects.toThrow(/target 7 out of range: \/x\/manifest\.json/)
  })
})
