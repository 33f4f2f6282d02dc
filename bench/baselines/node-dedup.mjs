// Dedup by hand, as a Node user would write it: a Set of the `doc` keys seen, the first
// line of each key kept as it is.
//   node bench/baselines/node-dedup.mjs --out DIR FILE...
import * as fs from "node:fs"
import * as path from "node:path"

const argv = process.argv.slice(2)
const i = argv.indexOf("--out")
const out = argv[i + 1]
argv.splice(i, 2)

const seen = new Set()
fs.mkdirSync(out, { recursive: true })
const fd = fs.openSync(path.join(out, "dedup.jsonl"), "w")
for (const file of argv) {
  const text = fs.readFileSync(file, "utf8")
  const kept = []
  let start = 0
  while (start < text.length) {
    let end = text.indexOf("\n", start)
    if (end < 0) end = text.length
    if (end > start) {
      const line = text.slice(start, end)
      const doc = JSON.parse(line).doc
      if (!seen.has(doc)) { seen.add(doc); kept.push(line) }
    }
    start = end + 1
  }
  if (kept.length) fs.writeSync(fd, kept.join("\n") + "\n")
}
fs.closeSync(fd)
