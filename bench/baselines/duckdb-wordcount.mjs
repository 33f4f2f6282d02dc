// Word count with DuckDB, a whole command: start, read the text files as lines, split
// lowercased lines into [a-z0-9']+ words, count, write DIR/counts.jsonl.
//   node bench/baselines/duckdb-wordcount.mjs --out DIR GLOB
import * as fs from "node:fs"
import * as path from "node:path"
import { DuckDBInstance } from "@duckdb/node-api"

const [, , , out, glob] = process.argv
fs.mkdirSync(out, { recursive: true })
const db = await DuckDBInstance.create(":memory:")
const connection = await db.connect()
await connection.run(`COPY (
    SELECT word, count(*) AS count FROM (
      SELECT unnest(regexp_extract_all(lower(line), '[a-z0-9'']+')) AS word
      FROM read_csv('${glob}', columns = {'line': 'VARCHAR'}, delim = '\x01', header = false, quote = '', escape = ''))
    GROUP BY word)
  TO '${path.join(out, "counts.jsonl")}' (FORMAT json)`)
