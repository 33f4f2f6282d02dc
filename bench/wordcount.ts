/**
 * Wordcount on a generated ~100 MB text corpus, on 1 and 2 local worker processes, with
 * DuckDB running the same query on the same files as the baseline.
 *   npx tsx bench/wordcount.ts [--mb 100] [--files 8] [--workers 1,2]
 * Prints one JSON line per run: wall time, throughput, and the totals (which must agree).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

const flag = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1]! : fallback
}
const mb = Number(flag("mb", "100"))
const files = Number(flag("files", "8"))
const workerCounts = flag("workers", "1,2").split(",").map(Number)

const dir = path.join(os.tmpdir(), `zephyr-bench-wordcount-${mb}mb-${files}`)
const input = path.join(dir, "input")

/** A deterministic corpus: Zipf-like words from a 50k vocabulary. */
const generate = () => {
  if (fs.existsSync(path.join(input, "done"))) return
  fs.rmSync(input, { recursive: true, force: true })
  fs.mkdirSync(input, { recursive: true })
  let seed = 42
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32)
  const vocab = Array.from({ length: 50_000 }, (_, i) => `w${i.toString(36)}${"aeiou"[i % 5]}`)
  const perFile = Math.floor((mb * 1e6) / files)
  for (let f = 0; f < files; f++) {
    const fd = fs.openSync(path.join(input, `part-${f}.txt`), "w")
    let written = 0
    while (written < perFile) {
      const words: Array<string> = []
      for (let i = 0; i < 12; i++) words.push(vocab[Math.floor(vocab.length * rand() ** 3)]!)
      const line = words.join(" ") + "\n"
      fs.writeSync(fd, line)
      written += line.length
    }
    fs.closeSync(fd)
  }
  fs.writeFileSync(path.join(input, "done"), "")
}

generate()
const bytes = fs.readdirSync(input).filter((f) => f.endsWith(".txt")).reduce((s, f) => s + fs.statSync(path.join(input, f)).size, 0)
for (const workers of workerCounts) {
  const out = path.join(dir, `out-${workers}`)
  fs.rmSync(out, { recursive: true, force: true })
  const t0 = performance.now()
  execFileSync(process.execPath, ["bin/zephyr.js", "run", "examples/wordcount.ts", "--workers", String(workers), "--no-progress",
    "--arg", `input=${input}/*.txt`, "--arg", `out=${out}`, "--arg", "shards=8"], { stdio: ["ignore", "ignore", "inherit"] })
  const seconds = (performance.now() - t0) / 1000
  let words = 0, distinct = 0
  for (const f of fs.readdirSync(out)) for (const line of fs.readFileSync(path.join(out, f), "utf8").split("\n")) {
    if (!line) continue
    words += JSON.parse(line).count
    distinct++
  }
  console.log(JSON.stringify({ bench: "wordcount", engine: "zephyr", mb: Math.round(bytes / 1e6), files, workers, seconds: Number(seconds.toFixed(2)), mbPerSecond: Number((bytes / 1e6 / seconds).toFixed(1)), words, distinct }))
}

{
  const { DuckDBInstance } = await import("@duckdb/node-api")
  const db = await DuckDBInstance.create(":memory:")
  const connection = await db.connect()
  const t0 = performance.now()
  const rows = (await connection.runAndReadAll(
    `SELECT count(*) AS words, count(DISTINCT word) AS distinct FROM (
       SELECT unnest(regexp_extract_all(lower(line), '[a-z0-9'']+')) AS word
       FROM read_csv('${input}/*.txt', columns = {'line': 'VARCHAR'}, delim = '\x01', header = false, quote = '', escape = ''))`
  )).getRowObjects()[0]!
  const seconds = (performance.now() - t0) / 1000
  console.log(JSON.stringify({ bench: "wordcount", engine: "duckdb", mb: Math.round(bytes / 1e6), files, threads: 2, seconds: Number(seconds.toFixed(2)), mbPerSecond: Number((bytes / 1e6 / seconds).toFixed(1)), words: Number(rows.words), distinct: Number(rows.distinct) }))
}
