/**
 * Read and write throughput of the formats on ~50 MB of generated JSONL-like records.
 * Not a test (nothing is asserted): `npx tsx test/runtime/formats/throughput.ts [MB]`.
 * MB/s are of the uncompressed JSONL size, so the codecs compare directly.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CounterSet } from "../../../runtime/task/CounterSet.ts"
import { read } from "../../../runtime/formats/Readers.ts"
import { write } from "../../../runtime/formats/Writers.ts"

const targetMB = Number(process.argv[2] ?? 50)
let seed = 7
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
const vocabulary = Array.from({ length: 20_000 }, () => Math.floor(random() * 1e12).toString(36))

const rows: Array<Record<string, unknown>> = []
let jsonBytes = 0
while (jsonBytes < targetMB * 1e6) {
  const i = rows.length
  const words = 10 + Math.floor(random() * 60)
  let text = ""
  for (let w = 0; w < words; w++) text += vocabulary[Math.floor(random() * vocabulary.length)] + " "
  const row = {
    id: i,
    url: `https://example.com/${vocabulary[i % vocabulary.length]}/${i}`,
    text,
    score: Math.round(random() * 1e4) / 1e4,
    meta: { lang: i % 3 === 0 ? "fr" : "en", words }
  }
  rows.push(row)
  jsonBytes += JSON.stringify(row).length + 1
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-throughput-"))
const mb = jsonBytes / 1e6
const rate = (ms: number) => `${(mb / (ms / 1000)).toFixed(0).padStart(4)} MB/s`

async function* chunks() {
  for (let i = 0; i < rows.length; i += 4096) yield rows.slice(i, i + 4096)
}

console.log(`${rows.length} rows, ${mb.toFixed(1)} MB as JSONL; node ${process.version}`)
try {
  const explicit = { schema: { id: "int", url: "string", text: "string", score: "double", meta: { lang: "string", words: "int" } } }
  const cases: Array<[string, Record<string, unknown>]> = [
    ["data.jsonl", {}], ["data.jsonl.gz", {}], ["data.jsonl.zst", {}], ["data.csv", {}],
    ["data.parquet", {}], ["explicit-schema.parquet", explicit], ["snappy.parquet", { compression: "snappy" }]
  ]
  for (const [name, options] of cases) {
    const target = path.join(dir, name)
    const format = name.endsWith(".parquet") ? "parquet" : name.endsWith(".csv") ? "csv" : "jsonl"
    let t = performance.now()
    const written = await write({ path: target, format, options, counters: new CounterSet() }, chunks())
    const writeMs = performance.now() - t
    t = performance.now()
    let n = 0
    const request = {
      path: target, kind: "loadFile", format: "auto", columns: null, filter: null, includeFilePaths: false, filePathColumn: "__file_path",
      schema: undefined, onBadRow: "fail", quarantineDir: path.join(dir, "q"), counters: new CounterSet(), options: {}
    } as const
    for await (const chunk of read(request)) n += chunk.length
    const readMs = performance.now() - t
    if (n !== rows.length) throw new Error(`read ${n} rows of ${rows.length}`)
    console.log(`${name.padEnd(24)} write ${rate(writeMs)}  read ${rate(readMs)}  file ${(written.bytes / 1e6).toFixed(1).padStart(5)} MB`)
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
