// The memory workload's groupBy by hand, in one Node process with a Map: per `user`, the
// number of records and the sum of their ids. It checks Zephyr's answer and shows what
// the same work costs without a memory budget.
//   node bench/baselines/node-groupby-user.mjs --out DIR FILE...
import * as fs from "node:fs"
import * as path from "node:path"

const argv = process.argv.slice(2)
const i = argv.indexOf("--out")
const out = argv[i + 1]
argv.splice(i, 2)

const users = new Map()
for (const file of argv) {
  const text = fs.readFileSync(file, "utf8")
  let start = 0
  while (start < text.length) {
    let end = text.indexOf("\n", start)
    if (end < 0) end = text.length
    if (end > start) {
      const r = JSON.parse(text.slice(start, end))
      const u = users.get(r.user)
      if (u) { u.records++; u.ids += r.id } else users.set(r.user, { user: r.user, records: 1, ids: r.id })
    }
    start = end + 1
  }
}
fs.mkdirSync(out, { recursive: true })
fs.writeFileSync(path.join(out, "users.jsonl"), [...users.values()].map((u) => JSON.stringify(u)).join("\n") + "\n")
