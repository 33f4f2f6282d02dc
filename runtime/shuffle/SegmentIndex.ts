import * as path from "node:path"
import { ZephyrWorkerError } from "../../plan/Errors.ts"
import type { ScatterIndex, ShardInput, ShardOutput } from "../../rpc/Protocol.ts"
import * as StoragePath from "../storage/StoragePath.ts"
import type { Manifest, ManifestRun, Segment } from "./RunFile.ts"

/**
 * Who reads which shuffle segment. A mapper reports where its segments are (its
 * ScatterIndex, R numbers × 5 at most per run); the coordinator builds each target's list
 * from them when its task is handed out (Lists), so each reduce task carries only its own
 * segment list (M entries), and a reducer reads no manifest at all. Across a shuffle that is O(M·R) metadata in all, instead of every
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
  let n = 0
  for (const run of manifest.runs) for (const s of run.segments) if (s[3] > 0) n++
  const segments = new Float64Array(n * INDEX_STRIDE)
  let o = 0
  manifest.runs.forEach((run, r) => {
    for (const [target, offset, length, count] of run.segments) {
      if (count <= 0) continue
      segments[o++] = r; segments[o++] = target; segments[o++] = offset; segments[o++] = length; segments[o++] = count
    }
  })
  return { sorted: manifest.sorted, runs: manifest.runs.map((run) => [run.file, run.maxBlock] as const), segments }
}

/** Numbers checked between two yields to the event loop (a few ms of work). */
const YIELD_EVERY = 200_000

export type ShuffleInput = Extract<ShardInput, { kind: "shuffle" }>

/** One mapper's index as the coordinator keeps it: its report's packed numbers, searched by target. */
interface Mapper {
  /** `[run, target, offset, length, count]` per segment, in run then target order. */
  readonly segments: Float64Array
  /** Segment `runStart[r]` is run r's first; `runStart[runs]` is the end. */
  readonly runStart: Uint32Array
  /** Run r's file, relative to the lists' directory. */
  readonly files: ReadonlyArray<string>
  readonly maxBlock: ReadonlyArray<number>
}

/**
 * The reducers' segment lists of one shuffle, built one at a time when a reduce task is
 * handed out. The mappers' reports are kept as they arrived (packed float64, off the JS
 * heap) and target `t`'s list is, per run of every mapper, a look-up of `t` among the
 * run's target-ordered segments (direct in a dense run, else a binary search): O(M·log R) per task at most, where dealing every segment out
 * at the stage's start cost O(M·R) time and memory up front (10^7 segments: 38 s, 465 MB).
 */
export interface Lists {
  readonly targets: number
  readonly sorted: boolean
  /** The directory the run files are named relative to (the longest one holding them all). */
  readonly dir: string
  /** Segments per target. */
  readonly counts: Uint32Array
  /** About how many bytes target `t`'s task adds to a message (a batch stays below the message limit). */
  readonly bytesOf: (target: number) => number
  /** Target `t`'s own list, as its reduce task carries it. */
  readonly inputOf: (target: number) => ShuffleInput
}

/** The longest directory that holds both `dir` and `other` (`/`-separated, local or s3://). */
const commonDir = (dir: string, other: string): string => {
  let d = dir
  while (other !== d && !other.startsWith(d.endsWith("/") ? d : `${d}/`)) {
    const up = StoragePath.dirname(d)
    if (up === d) return d
    d = up
  }
  return d
}

const relativeTo = (dir: string, p: string): string => (p === dir ? "" : p.slice(dir.endsWith("/") ? dir.length : dir.length + 1))

/**
 * The lists of a shuffle, from the mappers' outputs (in mapper order) with their indexes
 * (`indexOf` gives the index of a mapper that did not report one: from its manifest).
 * Checks every target once (a bad one is an error naming the mapper's manifest), counts
 * each target's segments, and yields to the event loop every few ms meanwhile.
 */
export const lists = async (
  mappers: ReadonlyArray<Extract<ShardOutput, { kind: "scatter" }>>,
  targets: number,
  indexOf: (manifest: string) => ScatterIndex
): Promise<Lists> => {
  const counts = new Uint32Array(targets)
  const dirs = mappers.map((m) => StoragePath.dirname(m.manifest))
  const dir = dirs.length === 0 ? "" : dirs.reduce(commonDir)
  const kept: Array<Mapper> = []
  let sorted = false
  let checked = 0
  let nameChars = 0, names = 0
  for (const [m, mapper] of mappers.entries()) {
    // The coordinator keeps answering (keep-alives, heartbeats) while it checks 10^7 segments.
    if (checked >= YIELD_EVERY) { checked = 0; await new Promise<void>((resolve) => setImmediate(resolve)) }
    const index = mapper.index ?? indexOf(mapper.manifest)
    if (index.sorted) sorted = true
    // A record written before reports were packed holds an array of numbers.
    let seg = index.segments instanceof Float64Array ? index.segments : Float64Array.from(index.segments as ArrayLike<number>)
    checked += seg.length
    const runs = index.runs.length
    const outOfRange = (target: number) =>
      new RangeError(`Shuffle target ${target} out of range: ${mapper.manifest} names ${targets} targets at most`)
    let inOrder = true
    for (let i = 0; i + INDEX_STRIDE <= seg.length; i += INDEX_STRIDE) {
      const run = seg[i]!, target = seg[i + 1]!
      if (!Number.isInteger(target) || target < 0 || target >= targets) throw outOfRange(target)
      if (!Number.isInteger(run) || run < 0 || run >= runs) throw new RangeError(`Shuffle run ${run} out of range: ${mapper.manifest} has ${runs} runs`)
      if (i > 0 && (run < seg[i - INDEX_STRIDE]! || (run === seg[i - INDEX_STRIDE]! && target < seg[i - INDEX_STRIDE + 1]!))) inOrder = false
      counts[target]!++
    }
    // Reports are in run then target order (ofRuns); anything else is put in order once, here.
    if (!inOrder) seg = inRunTargetOrder(seg)
    const runStart = new Uint32Array(runs + 1)
    for (let i = 0; i + INDEX_STRIDE <= seg.length; i += INDEX_STRIDE) runStart[seg[i]! + 1]!++
    for (let r = 0; r < runs; r++) runStart[r + 1]! += runStart[r]!
    const prefix = relativeTo(dir, dirs[m]!)
    const files = index.runs.map(([file]) => (prefix === "" ? file : `${prefix}/${file}`))
    for (const f of files) { nameChars += f.length + 1; names++ }
    kept.push({ segments: seg, runStart, files, maxBlock: index.runs.map(([, maxBlock]) => maxBlock) })
  }
  const nameBytes = names === 0 ? 0 : nameChars / names
  // A target with a segment in every run (the usual case of a big shuffle) names every run
  // file, in order: that string is joined once, not once per task.
  let everyRun: string | undefined
  const inputOf = (target: number): ShuffleInput => {
    const n = counts[target]!
    const out = new Float64Array(n * INPUT_STRIDE)
    // A run holds at most one segment per target: each segment names its own file.
    const files = new Array<string>(n)
    let k = 0, runsWith = 0
    for (const mapper of kept) {
      const seg = mapper.segments, runStart = mapper.runStart
      for (let r = 0; r + 1 < runStart.length; r++) {
        // The first segment of run r whose target is >= `target`: where it is when the run
        // has a segment for every target below it (a dense run, the usual case at scale), else
        // found by binary search.
        let lo = runStart[r]!, hi = runStart[r + 1]!
        const guess = lo + target
        if (guess < hi && seg[guess * INDEX_STRIDE + 1] === target && (guess === lo || seg[(guess - 1) * INDEX_STRIDE + 1]! < target)) lo = guess
        else {
          while (lo < hi) {
            const mid = (lo + hi) >>> 1
            if (seg[mid * INDEX_STRIDE + 1]! < target) lo = mid + 1
            else hi = mid
          }
        }
        if (lo < runStart[r + 1]! && seg[lo * INDEX_STRIDE + 1] === target) runsWith++
        for (let i = lo; i < runStart[r + 1]! && seg[i * INDEX_STRIDE + 1] === target; i++) {
          const s = i * INDEX_STRIDE, o = k * INPUT_STRIDE
          files[k] = mapper.files[r]!
          out[o] = k
          out[o + 1] = seg[s + 2]!
          out[o + 2] = seg[s + 3]!
          out[o + 3] = seg[s + 4]!
          out[o + 4] = mapper.maxBlock[r]!
          k++
        }
      }
    }
    const all = runsWith === names && n === names
    if (all && everyRun === undefined) everyRun = files.join("\n")
    return { kind: "shuffle", target, sorted, dir, files: all ? everyRun! : files.join("\n"), segments: out }
  }
  return {
    targets, sorted, dir, counts, inputOf,
    bytesOf: (target) => Math.ceil(64 + dir.length + counts[target]! * (INPUT_STRIDE * 8 + nameBytes))
  }
}

/** A mapper's segments sorted by run, then target (stable). */
const inRunTargetOrder = (seg: Float64Array): Float64Array => {
  const n = Math.floor(seg.length / INDEX_STRIDE)
  const order = Array.from({ length: n }, (_, i) => i)
  order.sort((a, b) => seg[a * INDEX_STRIDE]! - seg[b * INDEX_STRIDE]! || seg[a * INDEX_STRIDE + 1]! - seg[b * INDEX_STRIDE + 1]! || a - b)
  const out = new Float64Array(n * INDEX_STRIDE)
  order.forEach((from, to) => out.set(seg.subarray(from * INDEX_STRIDE, (from + 1) * INDEX_STRIDE), to * INDEX_STRIDE))
  return out
}

/** Each target's own list at once (tests and benchmarks compare the lazy lists with it). */
export const byTarget = async (
  mappers: ReadonlyArray<Extract<ShardOutput, { kind: "scatter" }>>,
  targets: number,
  indexOf: (manifest: string) => ScatterIndex
): Promise<Array<ShuffleInput>> => {
  const all = await lists(mappers, targets, indexOf)
  return Array.from({ length: targets }, (_, t) => all.inputOf(t))
}

/** A name of a run file under its list's directory: `/`-separated plain names, none starting with a dot. */
const safeName = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$/

/** A path with no `.`, `..` or empty segment (local paths absolute). */
const isNormal = (p: string): boolean => {
  if (StoragePath.isS3(p)) {
    const rest = p.slice(StoragePath.S3_SCHEME.length)
    return rest.split("/").every((s, i, all) => s !== "." && s !== ".." && (s !== "" || (i === all.length - 1 && i > 0)))
  }
  return p === "/" || (path.isAbsolute(p) && path.resolve(p) === p.replace(/\/+$/, ""))
}

/** Whether `p` is `dir` or inside it. */
const isWithin = (dir: string, p: string): boolean => {
  const d = dir.endsWith("/") ? dir.slice(0, -1) : dir
  return p === d || p === `${d}/` || p.startsWith(`${d}/`)
}

const malformed = (input: ShuffleInput, problem: string): ZephyrWorkerError =>
  new ZephyrWorkerError({
    reason: "invalid-task",
    message: `Malformed reduce task for shuffle target ${input.target}: ${problem}. The coordinator that sent it is not this version of Zephyr or is not ours; the task is refused.`
  })

/**
 * A reduce task's segments, as the merge reads them. The task is checked first: its
 * directory must be in the execution's (`executionDir`), its file names plain relative
 * names, its numbers whole and in range; a malformed one is refused (`invalid-task`).
 */
export const segmentsOf = (input: ShuffleInput, executionDir: string): Array<Segment> => {
  const s = input.segments
  if (s.length % INPUT_STRIDE !== 0) throw malformed(input, `its segment list holds ${s.length} numbers, not ${INPUT_STRIDE} per segment`)
  if (s.length === 0) return []
  if (!isNormal(input.dir) || !isWithin(executionDir, input.dir)) {
    throw malformed(input, `its run files are in ${JSON.stringify(input.dir)}, outside the execution's directory ${executionDir}`)
  }
  const names = input.files.split("\n")
  // Checked names under a normal directory: plain concatenation is the join (path.join costs 1 µs a name).
  const dir = input.dir.endsWith("/") ? input.dir.slice(0, -1) : input.dir
  const files = names.map((name) => {
    if (!safeName.test(name)) throw malformed(input, `${JSON.stringify(name.slice(0, 200))} is not a run file's name under ${input.dir}`)
    return `${dir}/${name}`
  })
  const out: Array<Segment> = []
  for (let i = 0; i < s.length; i += INPUT_STRIDE) {
    for (let j = i; j < i + INPUT_STRIDE; j++) {
      const v = s[j]!
      if (!Number.isSafeInteger(v) || v < 0) throw malformed(input, `segment ${i / INPUT_STRIDE} holds ${v}, not a whole number`)
    }
    const file = files[s[i]!]
    if (file === undefined) throw malformed(input, `segment ${i / INPUT_STRIDE} names file ${s[i]} of ${files.length}`)
    out.push({ file, offset: s[i + 1]!, length: s[i + 2]!, count: s[i + 3]!, maxBlock: s[i + 4]!, sorted: input.sorted })
  }
  return out
}

/**
 * Target `target`'s list, until its task is handed out: what the Scheduler holds for a
 * reduce shard (the Coordinator builds the list, Lists.inputOf, as it answers the pull).
 */
export interface Deferred {
  readonly kind: "deferred-shuffle"
  readonly target: number
  readonly lists: Lists
}

/** Every target's deferred list, in target order: a reduce stage's inputs. */
export const deferredInputs = (lists: Lists): Array<Deferred> =>
  Array.from({ length: lists.targets }, (_, target) => ({ kind: "deferred-shuffle" as const, target, lists }))

/** An input as it goes on the wire: a deferred list built now. */
export const handedOut = (input: ShardInput | Deferred): ShardInput =>
  input.kind === "deferred-shuffle" ? input.lists.inputOf(input.target) : input

/** About how many bytes a shard input adds to a message (a reduce task's list grows with the mappers). */
export const inputBytes = (input: ShardInput | Deferred): number =>
  input.kind === "deferred-shuffle" ? input.lists.bytesOf(input.target)
  : input.kind === "shuffle" ? 64 + input.dir.length + input.files.length + 8 * input.segments.length
  : 0
