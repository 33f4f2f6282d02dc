// The same queries in DuckDB (@duckdb/node-api), as a user would run them: one process,
// whole command. node bench/baseline-duckdb.mjs <workload> <out file> <input glob>
import { DuckDBInstance } from "@duckdb/node-api"

const [workload, out, glob] = process.argv.slice(2)
const json = `read_json('${glob}', format = 'newline_delimited', columns = {id: 'BIGINT', user: 'VARCHAR', kind: 'VARCHAR', amount: 'BIGINT', url: 'VARCHAR', text: 'VARCHAR'})`
const text = `read_csv('${glob}', columns = {'line': 'VARCHAR'}, header = false, delim = '\x01', quote = '', escape = '')`
const queries = {
  mapFilterWrite: `SELECT id, user, amount * 2 AS amount, length(text) > 50 AS long FROM ${json} WHERE amount * 2 > 60`,
  groupByCount: `SELECT user, count(*) AS n FROM ${json} GROUP BY user`,
  dedup: `SELECT DISTINCT ON (url) * FROM ${json}`,
  wordcount: `SELECT word, count(*) AS count FROM (SELECT unnest(regexp_extract_all(lower(line), '[a-z0-9'']+')) AS word FROM ${text}) GROUP BY word`
}
const q = queries[workload]
if (!q) throw new Error(`unknown workload ${workload}`)
const db = await DuckDBInstance.create(":memory:")
const conn = await db.connect()
await conn.run(`COPY (${q}) TO '${out}' (FORMAT json)`)
