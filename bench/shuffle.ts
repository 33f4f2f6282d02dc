/**
 * Shuffle benchmark: scatter 2,000,000 items of ~100 bytes (100k distinct string keys) from
 * 4 writers into 16 targets, then reduce every target (consuming every item), with a 64 MB
 * budget and with a 4 MB budget that forces many runs and multi-pass merges. A skewed
 * variant sends 90% of the items to one key. Prints one JSON line per case.
 *
 *   npx tsx bench/shuffle.ts [--items N] [--writers W] [--targets R] [--keys K]
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import { CounterSet, values } from "../runtime/task/CounterSet.ts"
import { ScatterWriter } from "../runtime/shuffle/ScatterWriter.ts"
import { groups } from "../runtime/shuffle/ShuffleReader.ts"

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const ITEMS = arg("items", 2_000_000)
const WRITERS = arg("writers", 4)
const TARGETS = arg("targets", 16)
const KEYS = arg("keys", 100_000)

interface Row { readonly key: string; readonly id: number; readonly score: number; readonly text: string }

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 "
/**
 * One writer's items: ~100 bytes of msgpack each. Strings are built flat (fromCharCode),
 * as decoded input would be: a string grown by `+=` is a rope that V8 flattens on first
 * encode, which alone makes msgpack encoding ~10× slower and would dominate the numbers.
 */
const generate = (writer: number, n: number, skewed: boolean): Array<Row> => {
  const r = mulberry32(1000 + writer)
  const out: Array<Row> = new Array(n)
  for (let i = 0; i < n; i++) {
    const k = skewed && r() < 0.9 ? 0 : Math.floor(r() * KEYS)
    const codes: Array<number> = []
    for (let j = 0; j < 56; j++) codes.push(ALPHABET.charCodeAt(Math.floor(r() * ALPHABET.length)))
    const text = String.fromCharCode(...codes)
    out[i] = { key: `key-${String(k).padStart(6, "0")}`, id: writer * n + i, score: r(), text }
  }
  return out
}

const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d

const runCase = (name: string, skewed: boolean, budget: number): void => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-bench-shuffle-"))
  try {
    const perWriter = Math.floor(ITEMS / WRITERS)
    const writeCounters = new CounterSet()
    const manifests: Array<string> = []
    let scatterMs = 0
    for (let w = 0; w < WRITERS; w++) {
      const rows = generate(w, perWriter, skewed)
      const t0 = performance.now()
      const writer = new ScatterWriter({
        dir: path.join(root, `map-${w}`),
        numTargets: TARGETS,
        key: (x) => (x as Row).key,
        sortBy: undefined,
        combiner: undefined,
        memoryBudgetBytes: budget,
        counters: writeCounters
      })
      for (let i = 0; i < rows.length; i += 1000) writer.add(rows.slice(i, i + 1000))
      manifests.push(writer.finish().manifest)
      scatterMs += performance.now() - t0
    }
    const written = values(writeCounters.snapshot())
    const bytes = written["zephyr/shuffle_bytes_written"]!
    const items = perWriter * WRITERS

    const readCounters = new CounterSet()
    let reduceMs = 0, slowestTargetMs = 0, groupCount = 0, seen = 0
    for (let t = 0; t < TARGETS; t++) {
      const t0 = performance.now()
      for (const [, rows] of groups(manifests, t, { tmpDir: path.join(root, "merge"), memoryBudgetBytes: budget, counters: readCounters })) {
        groupCount++
        for (const _ of rows) seen++
      }
      const ms = performance.now() - t0
      reduceMs += ms
      slowestTargetMs = Math.max(slowestTargetMs, ms)
    }
    if (seen !== items) throw new Error(`lost items: ${seen} of ${items}`)
    const read = values(readCounters.snapshot())
    const mb = bytes / 1e6
    console.log(JSON.stringify({
      case: name,
      budgetMB: budget / 1e6,
      items,
      writers: WRITERS,
      targets: TARGETS,
      shuffleMB: round(mb),
      bytesPerItem: round(bytes / items),
      scatter: { seconds: round(scatterMs / 1000, 2), itemsPerSec: Math.round(items / (scatterMs / 1000)), mbPerSec: round(mb / (scatterMs / 1000)), runs: written["zephyr/shuffle_runs"] },
      reduce: {
        seconds: round(reduceMs / 1000, 2),
        itemsPerSec: Math.round(items / (reduceMs / 1000)),
        mbPerSec: round(mb / (reduceMs / 1000)),
        slowestTargetSeconds: round(slowestTargetMs / 1000, 2),
        groups: groupCount,
        segments: read["zephyr/shuffle_segments_read"] ?? 0,
        mergePasses: read["zephyr/shuffle_merge_passes"] ?? 0,
        spillMB: round((read["zephyr/shuffle_spill_bytes"] ?? 0) / 1e6)
      },
      heapMB: Math.round(process.memoryUsage().heapUsed / 1e6)
    }))
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
}

for (const [name, skewed] of [["uniform", false], ["skewed-90%", true]] as const) {
  for (const budget of [64e6, 4e6]) runCase(name, skewed, budget)
}
