/**
 * The generated inputs of the data-plane benchmarks: ~N MiB of JSONL events in F files,
 * deterministic, cached under the OS temp dir. Rows look like a user's event log:
 * `{"id":..,"user":"u0001234","kind":"view","amount":57,"url":"https://...","text":"..."}`.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface Data {
  readonly dir: string
  readonly glob: string
  readonly files: ReadonlyArray<string>
  readonly bytes: number
}

const KINDS = ["view", "click", "buy", "share"]
const ALPHABET = "abcdefghijklmnopqrstuvwxyz      "

export const jsonl = (mb = 100, files = 8): Data => {
  const dir = path.join(os.tmpdir(), `zephyr-bench-events-${mb}mb-${files}`)
  const names = Array.from({ length: files }, (_, f) => path.join(dir, `part-${String(f).padStart(3, "0")}.jsonl`))
  if (!fs.existsSync(path.join(dir, "done"))) {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    let seed = 7
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    const perFile = Math.floor((mb * 1024 * 1024) / files)
    let id = 0
    for (const name of names) {
      const fd = fs.openSync(name, "w")
      let written = 0
      let buf = ""
      while (written < perFile) {
        const codes: Array<number> = []
        const len = 20 + Math.floor(rand() * 60)
        for (let j = 0; j < len; j++) codes.push(ALPHABET.charCodeAt(Math.floor(rand() * ALPHABET.length)))
        const row = {
          id: id++,
          user: `u${String(Math.floor(rand() ** 2 * 200_000)).padStart(7, "0")}`,
          kind: KINDS[Math.floor(rand() * KINDS.length)],
          amount: Math.floor(rand() * 100),
          url: `https://example.com/p/${Math.floor(rand() * 400_000)}`,
          text: String.fromCharCode(...codes)
        }
        const line = JSON.stringify(row) + "\n"
        buf += line
        written += line.length
        if (buf.length > 1 << 20) { fs.writeSync(fd, buf); buf = "" }
      }
      fs.writeSync(fd, buf)
      fs.closeSync(fd)
    }
    fs.writeFileSync(path.join(dir, "done"), "")
  }
  const bytes = names.reduce((s, f) => s + fs.statSync(f).size, 0)
  return { dir, glob: path.join(dir, "*.jsonl"), files: names, bytes }
}

/** Text for word count: Zipf-like words from a 50k vocabulary (as bench/wordcount.ts). */
export const text = (mb = 100, files = 8): Data => {
  const dir = path.join(os.tmpdir(), `zephyr-bench-text-${mb}mb-${files}`)
  const names = Array.from({ length: files }, (_, f) => path.join(dir, `part-${f}.txt`))
  if (!fs.existsSync(path.join(dir, "done"))) {
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    let seed = 42
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
    const vocab = Array.from({ length: 50_000 }, (_, i) => `w${i.toString(36)}${"aeiou"[i % 5]}`)
    const perFile = Math.floor((mb * 1024 * 1024) / files)
    for (const name of names) {
      const fd = fs.openSync(name, "w")
      let written = 0
      let buf = ""
      while (written < perFile) {
        const words: Array<string> = []
        for (let i = 0; i < 12; i++) words.push(vocab[Math.floor(vocab.length * rand() ** 3)]!)
        const line = words.join(" ") + "\n"
        buf += line
        written += line.length
        if (buf.length > 1 << 20) { fs.writeSync(fd, buf); buf = "" }
      }
      fs.writeSync(fd, buf)
      fs.closeSync(fd)
    }
    fs.writeFileSync(path.join(dir, "done"), "")
  }
  const bytes = names.reduce((s, f) => s + fs.statSync(f).size, 0)
  return { dir, glob: path.join(dir, "*.txt"), files: names, bytes }
}
