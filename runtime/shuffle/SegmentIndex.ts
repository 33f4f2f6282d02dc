import type { ScatterIndex, ShardInput, ShardOutput } from "../../rpc/Protocol.ts"
import * as StoragePath from "../storage/StoragePath.ts"
import type { Manifest, ManifestRun, Segment } from "./RunFile.ts"

/**
 * Who reads which shuffle segment. A mapper reports where its segments are (its
 * ScatterIndex, R numbers × 5 at most per run); the coordinator deals them out by target,
 * so each reduce task is handed only its own segment list (M entries), and a reducer reads
 * no manifest at all. Across a shuffle that is O(M·R) metadata in all, instead of every
 * reducer reading every mapper's whole manifest (O(M·R²)).
 */

/** Numbers per segment in a ScatterIndex: `[run, target, offset, length, count]`. */
export const INDEX_STRIDE = 5
/** Numbers per segment in a reduce task's list: `[file, offset, length, count, maxBlock]`. */
export const INPUT_STRIDE = 5

/**
 * A mapper with more segments than this (many spilled runs × many targets) does not
 * report them: its report would near the coordinator's message limit. The coordinator
 * reads its manifest instead (once per mapper, still O(R)).
 */
export const MAX_REPORTED_SEGMENTS = 16_384

/** A mapper's runs as it reports them; undefined when there are too many segments to report. */
export const ofRuns = (runs: ReadonlyArray<ManifestRun>, sorted: boolean): ScatterIndex | undefined => {
  let n = 0
  for (const run of runs) n += run.segments.length
  return n > MAX_REPORTED_SEGMENTS ? undefined : ofManifest({ sorted, runs })
}

/** The index of a manifest's runs (a mapper that did not report one, or an older record). */
export const ofManifest = (manifest: Pick<Manifest, "sorted" | "runs">): ScatterIndex => {
  const segments: Array<number> = []
  manifest.runs.forEach((run, r) => {
    for (const [target, offset, length, count] of run.segments) if (count > 0) segments.push(r, target, offset, length, count)
  })
  return { sorted: manifest.sorted, runs: manifest.runs.map((run) => [run.file, run.maxBlock] as const), segments }
}

/** Numbers dealt between two yields to the event loop (a few ms of work). */
const YIELD_EVERY = 200_000

export type ShuffleInput = Extract<ShardInput, { kind: "shuffle" }>

/**
 * Each target's own segment list, from the mappers' outputs (in mapper order) with their
 * indexes (`indexOf` gives the index of a mapper that did not report one: from its
 * manifest). A run file's path is built once and shared by the lists that name it.
 */
export const byTarget = async (
  mappers: ReadonlyArray<Extract<ShardOutput, { kind: "scatter" }>>,
  targets: number,
  indexOf: (manifest: string) => ScatterIndex
): Promise<Array<ShuffleInput>> => {
  const indexes = mappers.map((m) => m.index ?? indexOf(m.manifest))
  // Sized first, then filled in place: growing R arrays of M·5 numbers by push is what made this slow.
  const sizes = new Array<number>(targets).fill(0)
  for (const [m, index] of indexes.entries()) {
    const seg = index.segments
    for (let i = 1; i < seg.length; i += INDEX_STRIDE) {
      const target = seg[i]!
      if (!Number.isInteger(target) || target < 0 || target >= targets) {
        throw new RangeError(`Shuffle target ${target} out of range: ${mappers[m]!.manifest} names ${targets} targets at most`)
      }
      sizes[target]!++
    }
  }
  // A run holds at most one segment per target: each segment names its own file.
  const files = sizes.map((n) => new Array<string>(n))
  const lists = sizes.map((n) => new Array<number>(n * INPUT_STRIDE))
  const at = new Array<number>(targets).fill(0)
  let sorted = false
  let dealt = 0
  for (const [m, index] of indexes.entries()) {
    // The coordinator keeps answering (keep-alives, heartbeats) while it deals 10^7 segments:
    // a stall past a client's 10 s keep-alive would drop every connection.
    dealt += index.segments.length
    if (dealt >= YIELD_EVERY) { dealt = 0; await new Promise<void>((resolve) => setImmediate(resolve)) }
    if (index.sorted) sorted = true
    const dir = StoragePath.dirname(mappers[m]!.manifest)
    const paths = index.runs.map(([file]) => StoragePath.join(dir, file))
    const seg = index.segments
    for (let i = 0; i + INDEX_STRIDE <= seg.length; i += INDEX_STRIDE) {
      const run = seg[i]!, target = seg[i + 1]!
      const k = at[target]!++
      files[target]![k] = paths[run]!
      const list = lists[target]!
      const o = k * INPUT_STRIDE
      list[o] = k
      list[o + 1] = seg[i + 2]!
      list[o + 2] = seg[i + 3]!
      list[o + 3] = seg[i + 4]!
      list[o + 4] = index.runs[run]![1]
    }
  }
  return Array.from({ length: targets }, (_, target) => ({ kind: "shuffle" as const, target, sorted, files: files[target]!, segments: lists[target]! }))
}

/** A reduce task's segments, as the merge reads them. */
export const segmentsOf = (input: ShuffleInput): Array<Segment> => {
  const out: Array<Segment> = []
  const s = input.segments
  for (let i = 0; i + INPUT_STRIDE <= s.length; i += INPUT_STRIDE) {
    out.push({ file: input.files[s[i]!]!, offset: s[i + 1]!, length: s[i + 2]!, count: s[i + 3]!, maxBlock: s[i + 4]!, sorted: input.sorted })
  }
  return out
}

/** About how many bytes a shard input adds to a message (a reduce task's list grows with the mappers). */
export const inputBytes = (input: ShardInput): number => {
  if (input.kind !== "shuffle") return 0
  let n = 64 + 9 * input.segments.length
  for (const f of input.files) n += f.length + 2
  return n
}
