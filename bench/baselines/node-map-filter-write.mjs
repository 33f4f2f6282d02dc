// Map -> filter -> write by hand, as a Node user would write it: read each JSONL file
// whole, parse, transform, keep scores >= 0.5, write one output file per input file.
// With --processes N the files are dealt to N child processes.
//   node bench/baselines/node-map-filter-write.mjs [--processes N] --out DIR FILE...
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

const argv = process.argv.slice(2)
const flag = (name, fallback) => { const i = argv.indexOf(`--${name}`); if (i < 0) return fallback; const v = argv[i + 1]; argv.splice(i, 2); return v }
const processes = Number(flag("processes", "1"))
const out = flag("out", undefined)
const files = argv

// the same functions as bench/pipelines/mapFilterWrite.ts
const enrich = (r) => ({ id: r.id, user: r.user, score: r.score, text: r.text.toUpperCase(), words: r.text.split(" ").length })
const keep = (r) => r.score >= 0.5

const transform = (file) => {
  const text = fs.readFileSync(file, "utf8")
  const lines = []
  let start = 0
  while (start < text.length) {
    let end = text.indexOf("\n", start)
    if (end < 0) end = text.length
    if (end > start) {
      const r = enrich(JSON.parse(text.slice(start, end)))
      if (keep(r)) lines.push(JSON.stringify(r))
    }
    start = end + 1
  }
  fs.writeFileSync(path.join(out, path.basename(file)), lines.length ? lines.join("\n") + "\n" : "")
}

fs.mkdirSync(out, { recursive: true })
if (processes <= 1) for (const f of files) transform(f)
else {
  await Promise.all(Array.from({ length: processes }, (_, c) => new Promise((resolve, reject) => {
    const mine = files.filter((_, i) => i % processes === c)
    const p = spawn(process.execPath, [process.argv[1], "--out", out, ...mine], { stdio: ["ignore", "inherit", "inherit"] })
    p.on("close", (code) => code === 0 ? resolve() : reject(new Error(`child exited with ${code}`)))
  })))
}
