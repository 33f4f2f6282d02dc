/**
 * What a shuffle's metadata costs, the old way and the new way, for M mappers and R
 * targets (a segment from every mapper to every target, one run each):
 * - before: every reducer parsed every mapper's whole manifest (R segments each) to find
 *   its own: R × M manifest parses across the shuffle (timed on a sample, extrapolated);
 * - now: each mapper reports its index once (packed float64), the coordinator keeps the
 *   reports and builds a target's list when its task is handed out (SegmentIndex.lists,
 *   timed: the stage-start check, a task's list, its Schema encoding + msgpack, and the
 *   worker's decoding + checks); each reduce task carries M entries.
 *
 *   node --expose-gc --import tsx bench/scale/Metadata.ts [M] [R]
 */
import { Schema } from "effect"
import { Packr, Unpackr } from "msgpackr"
import { Report, Task } from "../../rpc/Protocol.ts"
import { FORMAT, type Manifest, parseManifest } from "../../runtime/shuffle/RunFile.ts"
import * as SegmentIndex from "../../runtime/shuffle/SegmentIndex.ts"

const M = Number(process.argv[2] ?? 10_000), R = Number(process.argv[3] ?? 1_000)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
/** The JS heap and the typed arrays' buffers (off the heap). */
const memoryMB = () => { gc(); const m = process.memoryUsage(); return (m.heapUsed + m.arrayBuffers) / 2 ** 20 }

const manifestOf = (): Manifest => ({
  format: FORMAT, numTargets: R, sorted: false, items: 10 * R, bytes: 4096 * R, itemsPerTarget: new Array<number>(R).fill(10),
  runs: [{ file: "run-00000-5eed5eed5eed.zrun", bytes: 4096 * R, maxBlock: 131_072, segments: Array.from({ length: R }, (_, t) => [t, t * 4096, 4096, 10] as const) }]
})
const manifestText = JSON.stringify(manifestOf())
const sample = Math.min(M, 2_000)
let t = performance.now()
for (let i = 0; i < sample; i++) parseManifest(manifestText, "m.json")
const parseMs = (performance.now() - t) / sample

const before = memoryMB()
const mappers = Array.from({ length: M }, (_, m) => {
  const segments = new Float64Array(5 * R)
  for (let target = 0; target < R; target++) segments.set([0, target, target * 4096, 4096, 10], 5 * target)
  return { kind: "scatter" as const, manifest: `/tmp/zephyr-1000/exec-0123456789ab/stage-0/scatter/shard-${m}-a0-5eed5eed/manifest-5eed5eed5eed.json`, index: { sorted: false, runs: [["run-00000-5eed5eed5eed.zrun", 131_072] as const], segments } }
})
const reportsMB = memoryMB() - before
t = performance.now()
const lists = await SegmentIndex.lists(mappers, R, () => { throw new Error("unreported") })
const listsMs = performance.now() - t
const listsMB = memoryMB() - before - reportsMB
const packr = new Packr()
const encodeTask = Schema.encodeSync(Task)
const decodeTask = Schema.decodeSync(Task)
const unpackr = new Unpackr()
const sampled = Math.min(R, 50)
let buildMs = 0, encodeMs = 0, decodeMs = 0, taskBytes = 0
for (let i = 0; i < sampled; i++) {
  const target = Math.floor(i * R / sampled)
  t = performance.now()
  const input = lists.inputOf(target)
  buildMs += performance.now() - t
  const task = { executionId: "exec-0123456789ab", stage: 1, generation: 2, shard: target, totalShards: R, attempt: 0, input }
  t = performance.now()
  const bytes = packr.pack(encodeTask(task))
  encodeMs += performance.now() - t
  taskBytes = bytes.length
  t = performance.now()
  const got = decodeTask(unpackr.unpack(bytes))
  if (got.input.kind !== "shuffle") throw new Error("not a shuffle task")
  const segments = SegmentIndex.segmentsOf(got.input, "/tmp/zephyr-1000/exec-0123456789ab")
  decodeMs += performance.now() - t
  if (segments.length !== M) throw new Error(`target ${target}: ${segments.length} segments, not ${M}`)
}
const report = { kind: "done", executionId: "e", stage: 0, generation: 1, shard: 0, attempt: 0, counters: {}, durationMs: 1, output: mappers[0]! }

process.stdout.write(JSON.stringify({
  mappers: M, targets: R,
  manifests: { manifestBytes: manifestText.length, bytesReadPerReducer: M * manifestText.length, bytesReadInAll: M * R * manifestText.length, parseMsPerManifest: +parseMs.toFixed(3), cpuSecondsPerReducer: +(M * parseMs / 1e3).toFixed(1), cpuSecondsInAll: Math.round(M * R * parseMs / 1e3) },
  lists: {
    reportBytesPerMapper: packr.pack(Schema.encodeSync(Report)(report as Report)).length,
    coordinatorReportsMB: Math.round(reportsMB), listsSeconds: +(listsMs / 1e3).toFixed(2), coordinatorListsMB: Math.round(listsMB),
    buildMsPerTask: +(buildMs / sampled).toFixed(2), taskBytes, encodeMsPerTask: +(encodeMs / sampled).toFixed(2), decodeMsPerTask: +(decodeMs / sampled).toFixed(2)
  }
}, null, 2) + "\n")
