/**
 * The bench inputs, generated deterministically (a fixed-seed PRNG) into a cache folder
 * under os.tmpdir() and reused by later runs: a file named `done` marks a complete set.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const cacheRoot = path.join(os.tmpdir(), "zephyr-bench-data")

export interface Files {
  readonly dir: string
  /** The glob a pipeline reads (`<dir>/*.jsonl`). */
  readonly glob: string
  readonly files: ReadonlyArray<string>
  readonly bytes: number
}

const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/** 20,000 words; drawn with a cube to get a Zipf-like skew, as in real text. */
const vocabulary = Array.from({ length: 20_000 }, (_, i) => `w${i.toString(36)}${"aeiou"[i % 5]}`)
const word = (r: () => number) => vocabulary[Math.floor(vocabulary.length * r() ** 3)]!

const listing = (dir: string, ext: string): Files => {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(dir, f))
  return { dir, glob: path.join(dir, `*${ext}`), files, bytes: files.reduce((s, f) => s + fs.statSync(f).size, 0) }
}

/** Writes `files` files of about `mib / files` MiB each, one line per call of `line(file, index)`. */
const generate = (dir: string, ext: string, mib: number, files: number, line: (r: () => number, index: number) => string): Files => {
  if (fs.existsSync(path.join(dir, "done"))) return listing(dir, ext)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const perFile = Math.floor((mib * 2 ** 20) / files)
  let index = 0
  for (let f = 0; f < files; f++) {
    const r = mulberry32(1_000 + f)
    const fd = fs.openSync(path.join(dir, `part-${String(f).padStart(3, "0")}${ext}`), "w")
    let written = 0
    let block: Array<string> = []
    while (written < perFile) {
      const l = line(r, index++) + "\n"
      block.push(l)
      written += l.length
      if (block.length === 4096) { fs.writeSync(fd, block.join("")); block = [] }
    }
    fs.writeSync(fd, block.join(""))
    fs.closeSync(fd)
  }
  fs.writeFileSync(path.join(dir, "done"), "")
  return listing(dir, ext)
}

/**
 * JSONL records of about 150 bytes:
 *   {"id":7,"key":"k01234","user":"u012345","doc":"d0012345","score":0.1234,"text":"..."}
 * `key` has 10,000 values (group-by-count), `user` 100,000 (the memory workload's groupBy),
 * `doc` repeats so that about half the records are duplicates (dedup).
 */
export const jsonl = (mib: number, files = 8): Files => {
  const expected = Math.max(1, Math.round((mib * 2 ** 20) / 150))
  return generate(path.join(cacheRoot, `jsonl-${mib}mib-${files}`), ".jsonl", mib, files, (r, id) => {
    const words: Array<string> = []
    const n = 6 + Math.floor(r() * 8)
    for (let i = 0; i < n; i++) words.push(word(r))
    return JSON.stringify({
      id,
      key: `k${String(Math.floor(r() * 10_000)).padStart(5, "0")}`,
      user: `u${String(Math.floor(r() * 100_000)).padStart(6, "0")}`,
      doc: `d${String(Math.floor(r() * expected * 0.6)).padStart(7, "0")}`,
      score: Math.round(r() * 10_000) / 10_000,
      text: words.join(" ")
    })
  })
}

/** Plain text, 12 words a line (word count). */
export const text = (mib: number, files = 8): Files =>
  generate(path.join(cacheRoot, `text-${mib}mib-${files}`), ".txt", mib, files, (r) => {
    const words: Array<string> = []
    for (let i = 0; i < 12; i++) words.push(word(r))
    return words.join(" ")
  })
