// Group-by-count with DuckDB, a whole command: start, read the JSONL files, count by key,
// write DIR/counts.jsonl ({"key":...,"count":...} per key).
//   node bench/baselines/duckdb-groupby-count.mjs --out DIR GLOB
import * as fs from "node:fs"
import * as path from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"

const [, , , out, glob] = process.argv
fs.mkdirSync(out, { recursive: true })
const db = await DuckDBInstance.create(":memory:")
const connection = await db.connect()
await connection.run(`COPY (SELECT key, count(*) AS count FROM read_json('${glob}', format = 'newline_delimited') GROUP BY key)
  TO '${path.join(out, "counts.jsonl")}' (FORMAT json)`)
