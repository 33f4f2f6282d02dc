// The hand-written single-process Node scripts a user would write instead of Zephyr:
// chunked reads, one JSON.parse per line, a Map. Plain JavaScript, no loader.
//   node bench/baseline-node.mjs <mapFilterWrite|groupByCount|dedup|wordcount|cpuMap> <out file> <input files...>
import * as fs from "node:fs"

const [workload, out, ...files] = process.argv.slice(2)

/** Calls `onLine` for every line of `file`, reading 1 MiB at a time. */
const eachLine = (file, onLine) => {
  const fd = fs.openSync(file, "r")
  const buf = Buffer.allocUnsafe(1 << 20)
  let rest = ""
  for (;;) {
    const n = fs.readSync(fd, buf, 0, buf.length, null)
    if (n === 0) break
    const text = rest + buf.toString("utf8", 0, n)
    const lines = text.split("\n")
    rest = lines.pop()
    for (const line of lines) if (line) onLine(line)
  }
  if (rest) onLine(rest)
  fs.closeSync(fd)
}

const burn = (e) => {
  let h = e.id | 0
  for (let i = 0; i < 4000; i++) h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) + i
  return h
}

const fd = fs.openSync(out, "w")
let pending = ""
const emit = (o) => {
  pending += JSON.stringify(o) + "\n"
  if (pending.length > 1 << 20) { fs.writeSync(fd, pending); pending = "" }
}
if (workload === "mapFilterWrite") {
  for (const f of files) eachLine(f, (line) => {
    const e = JSON.parse(line)
    const m = { id: e.id, user: e.user, amount: e.amount * 2, long: e.text.length > 50 }
    if (m.amount > 60) emit(m)
  })
} else if (workload === "groupByCount") {
  const counts = new Map()
  for (const f of files) eachLine(f, (line) => { const u = JSON.parse(line).user; counts.set(u, (counts.get(u) ?? 0) + 1) })
  for (const [user, n] of counts) emit({ user, n })
} else if (workload === "dedup") {
  const seen = new Set()
  for (const f of files) eachLine(f, (line) => { const e = JSON.parse(line); if (!seen.has(e.url)) { seen.add(e.url); emit(e) } })
} else if (workload === "wordcount") {
  const counts = new Map()
  for (const f of files) eachLine(f, (line) => {
    for (const w of line.toLowerCase().match(/[a-z0-9']+/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1)
  })
  for (const [word, count] of counts) emit({ word, count })
} else if (workload === "cpuMap") {
  for (const f of files) eachLine(f, (line) => { const e = JSON.parse(line); const h = burn(e); if (h % 7 === 0) emit({ id: e.id, h }) })
} else throw new Error(`unknown workload ${workload}`)
fs.writeSync(fd, pending)
fs.closeSync(fd)
