/**
 * What a shuffle's metadata costs, the old way and the new way, for M mappers and R
 * targets (a segment from every mapper to every target, one run each):
 * - before: every reducer parsed every mapper's whole manifest (R segments each) to find
 *   its own: R × M manifest parses across the shuffle (timed on a sample, extrapolated);
 * - now: each mapper reports its index once (msgpack), the coordinator deals the segments
 *   out by target (SegmentIndex.byTarget, timed) and each reduce task carries M entries.
 *
 *   node --expose-gc --import tsx bench/scale/Metadata.ts [M] [R]
 */
import { Packr } from "msgpackr"
import { FORMAT, type Manifest, parseManifest } from "../../runtime/shuffle/RunFile.ts"
import * as SegmentIndex from "../../runtime/shuffle/SegmentIndex.ts"

const M = Number(process.argv[2] ?? 10_000), R = Number(process.argv[3] ?? 1_000)
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})
const heapMB = () => { gc(); return process.memoryUsage().heapUsed / 2 ** 20 }

const manifestOf = (): Manifest => ({
  format: FORMAT, numTargets: R, sorted: false, items: 10 * R, bytes: 4096 * R, itemsPerTarget: new Array<number>(R).fill(10),
  runs: [{ file: "run-00000-5eed5eed5eed.zrun", bytes: 4096 * R, maxBlock: 131_072, segments: Array.from({ length: R }, (_, t) => [t, t * 4096, 4096, 10] as const) }]
})
const manifestText = JSON.stringify(manifestOf())
const sample = Math.min(M, 2_000)
let t = performance.now()
for (let i = 0; i < sample; i++) parseManifest(manifestText, "m.json")
const parseMs = (performance.now() - t) / sample

const before = heapMB()
const mappers = Array.from({ length: M }, (_, m) => {
  const segments: Array<number> = []
  for (let target = 0; target < R; target++) segments.push(0, target, target * 4096, 4096, 10)
  return { kind: "scatter" as const, manifest: `/tmp/zephyr-1000/exec-0123456789ab/stage-0/scatter/shard-${m}-a0-5eed5eed/manifest-5eed5eed5eed.json`, index: { sorted: false, runs: [["run-00000-5eed5eed5eed.zrun", 131_072] as const], segments } }
})
const reportsMB = heapMB() - before
t = performance.now()
const lists = await SegmentIndex.byTarget(mappers, R, () => { throw new Error("unreported") })
const byTargetMs = performance.now() - t
const listsMB = heapMB() - before - reportsMB
const packr = new Packr()
t = performance.now()
let taskBytes = 0
const packed = Math.min(R, 50)
for (let i = 0; i < packed; i++) taskBytes = packr.pack(lists[i]).length
const packMs = (performance.now() - t) / packed

process.stdout.write(JSON.stringify({
  mappers: M, targets: R,
  before: { manifestBytes: manifestText.length, bytesReadPerReducer: M * manifestText.length, bytesReadInAll: M * R * manifestText.length, parseMsPerManifest: +parseMs.toFixed(3), cpuSecondsPerReducer: +(M * parseMs / 1e3).toFixed(1), cpuSecondsInAll: Math.round(M * R * parseMs / 1e3) },
  now: { reportBytesPerMapper: packr.pack(mappers[0]).length, coordinatorReportsMB: Math.round(reportsMB), byTargetSeconds: +(byTargetMs / 1e3).toFixed(2), coordinatorListsMB: Math.round(listsMB), taskBytes, packMsPerTask: +packMs.toFixed(2) }
}, null, 2) + "\n")
