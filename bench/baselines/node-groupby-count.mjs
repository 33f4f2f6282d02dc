// Group-by-count by hand, as a Node user would write it: read each JSONL file whole,
// parse every line, count by `key` in a Map. With --processes N the files are dealt to N
// child processes whose counts the parent merges.
//   node bench/baselines/node-groupby-count.mjs [--processes N] --out DIR FILE...
// Writes DIR/counts.jsonl: {"key":...,"count":...} per key.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const argv = process.argv.slice(2)
const flag = (name, fallback) => { const i = argv.indexOf(`--${name}`); if (i < 0) return fallback; const v = argv[i + 1]; argv.splice(i, 2); return v }
const processes = Number(flag("processes", "1"))
const out = flag("out", undefined)
const child = argv.includes("--child") ? (argv.splice(argv.indexOf("--child"), 1), true) : false
const files = argv

const countFiles = (files) => {
  const counts = new Map()
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8")
    let start = 0
    while (start < text.length) {
      let end = text.indexOf("\n", start)
      if (end < 0) end = text.length
      if (end > start) {
        const key = JSON.parse(text.slice(start, end)).key
        counts.set(key, (counts.get(key) ?? 0) + 1)
      }
      start = end + 1
    }
  }
  return counts
}

const inChildren = (n) => Promise.all(Array.from({ length: n }, (_, c) => new Promise((resolve, reject) => {
  const mine = files.filter((_, i) => i % n === c)
  const p = spawn(process.execPath, [process.argv[1], "--child", ...mine], { stdio: ["ignore", "pipe", "inherit"] })
  const chunks = []
  p.stdout.on("data", (b) => chunks.push(b))
  p.on("close", (code) => code === 0 ? resolve(JSON.parse(Buffer.concat(chunks).toString("utf8"))) : reject(new Error(`child exited with ${code}`)))
})))

if (child) {
  process.stdout.write(JSON.stringify([...countFiles(files)]))
} else {
  let counts
  if (processes <= 1) counts = countFiles(files)
  else {
    counts = new Map()
    for (const part of await inChildren(processes)) for (const [k, n] of part) counts.set(k, (counts.get(k) ?? 0) + n)
  }
  fs.mkdirSync(out, { recursive: true })
  const lines = []
  for (const [key, count] of counts) lines.push(JSON.stringify({ key, count }))
  fs.writeFileSync(path.join(out, "counts.jsonl"), lines.join("\n") + "\n")
}
