import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { beforeAll, describe, expect, it } from "vitest"
import { CounterSet } from "../../../runtime/task/CounterSet.ts"
import type * as Source from "../../../plan/Source.ts"
import * as FileGlob from "../../../runtime/FileGlob.ts"
import * as DataError from "../../../runtime/formats/DataError.ts"
import * as OutputCommit from "../../../runtime/formats/OutputCommit.ts"
import * as Readers from "../../../runtime/formats/Readers.ts"
import * as Writers from "../../../runtime/formats/Writers.ts"
import * as ObjectStore from "../../../runtime/storage/ObjectStore.ts"
import * as S3Options from "../../../runtime/storage/S3Options.ts"
import { S3Store } from "../../../runtime/storage/S3Store.ts"
import { readRows, rejection, writeItems } from "../formats/Fixtures.ts"
import { credentials, useS3Server } from "../../S3Server.ts"
import { useTempDirs } from "../../TempDirs.ts"

// The S3 side of the storage seam against a real S3-compatible server (s3rver on
// 127.0.0.1): listings for globs, streamed and ranged reads, atomic writes, errors.
const server = useS3Server(["data", "out", "empty"])
const tmp = useTempDirs("zephyr-objects-")

beforeAll(() => {
  Object.assign(process.env, credentials)
  ObjectStore.configure(S3Options.resolve({ endpoint: server().endpoint }, {}))
})

const put = async (url: string, bytes: string | Uint8Array) => (await ObjectStore.s3()).writeFile(url, typeof bytes === "string" ? Buffer.from(bytes) : bytes)
const requestsFor = (bucket: string, key: string) => server().requests.filter((r) => r.bucket === bucket && r.key === key)
const source = (pattern: string): Extract<Source.Source, { kind: "files" }> =>
  ({ kind: "files", id: "o0", method: "readJsonl", pattern, emptyGlobOk: false, source: { file: "pipe.ts", line: 7, column: 3 } })

describe("globs over a bucket listing", () => {
  it("lists from the literal prefix of the pattern and matches keys like local files, sorted", async () => {
    for (const key of ["glob/a.jsonl", "glob/b.jsonl", "glob/.hidden.jsonl", "glob/sub/c.jsonl", "glob/sub/d.txt", "globber.jsonl", "other/x.jsonl"]) await put(`s3://data/${key}`, "{}\n")
    const before = server().requests.length
    expect(await FileGlob.sourceFiles(source("s3://data/glob/*.jsonl"))).toEqual(["s3://data/glob/a.jsonl", "s3://data/glob/b.jsonl"])
    expect(await FileGlob.sourceFiles(source("s3://data/glob/**/*.jsonl"))).toEqual(["s3://data/glob/a.jsonl", "s3://data/glob/b.jsonl", "s3://data/glob/sub/c.jsonl"])
    expect(await FileGlob.sourceFiles(source("s3://data/glob*"))).toEqual(["s3://data/globber.jsonl"])
    expect(await FileGlob.sourceFiles(source("s3://data/glob/.h*"))).toEqual(["s3://data/glob/.hidden.jsonl"])
    expect(await FileGlob.sourceFiles(source("s3://data/glob/sub/d.txt"))).toEqual(["s3://data/glob/sub/d.txt"])
    expect(await FileGlob.sourceFiles(source("s3://data/glob/none-*.jsonl"))).toEqual([])
    const listings = server().requests.slice(before).filter((r) => r.method === "GET" && r.query.includes("list-type=2"))
    // One listing per pattern with wildcards, each from its literal prefix, never the whole bucket.
    expect(listings.map((r) => new URLSearchParams(r.query).get("prefix"))).toEqual(["glob/", "glob/", "glob", "glob/.h", "glob/none-"])
    const listed = await FileGlob.listObjects("s3://data/glob/*.jsonl")
    expect(listed.map((o) => o.size)).toEqual([3, 3])
    expect(listed[0]!.mtimeMs).toBeGreaterThan(0)
  })

  it("names the pattern and the bucket when the listing is refused", async () => {
    const error = await FileGlob.sourceFiles(source("s3://no-such-bucket/x/*.jsonl")).catch((e) => DataError.fromObjectStore(e))
    expect(error).toMatchObject({ _tag: "ZephyrWorkerError", reason: "missing-input" })
    expect((error as Error).message).toMatch(/^The bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+ \(to list s3:\/\/no-such-bucket\/x\/\)\. Check the URL; if the bucket lives on another store, fix the endpoint: it is set by --s3-endpoint \/ option s3Endpoint\.$/)
  })
})

describe("reading objects", () => {
  it("streams JSONL, gzip'd JSONL, text and CSV objects, one GET each, no range", async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ i, text: `row ${i}` })).join("\n") + "\n"
    await put("s3://data/read/rows.jsonl", lines)
    await put("s3://data/read/rows.jsonl.gz", zlib.gzipSync(lines))
    await put("s3://data/read/lines.txt", "one\r\ntwo\n\nfour")
    await put("s3://data/read/people.csv", "name,age\nann,31\nbob,42\n")
    const expected = Array.from({ length: 20_000 }, (_, i) => ({ i, text: `row ${i}` }))
    const counters = new CounterSet()
    expect(await readRows("s3://data/read/rows.jsonl", { counters })).toEqual(expected)
    expect(counters.snapshot()["zephyr/bytes_read"]?.value).toBe(Buffer.byteLength(lines))
    expect(await readRows("s3://data/read/rows.jsonl.gz")).toEqual(expected)
    expect(await readRows("s3://data/read/lines.txt", { kind: "loadText" })).toEqual(["one", "two", "", "four"])
    expect(await readRows("s3://data/read/people.csv")).toEqual([{ name: "ann", age: "31" }, { name: "bob", age: "42" }])
    for (const key of ["read/rows.jsonl", "read/rows.jsonl.gz", "read/lines.txt", "read/people.csv"]) {
      const gets = requestsFor("data", key).filter((r) => r.method === "GET")
      expect(gets).toHaveLength(1)
      expect(gets[0]!.range).toBeUndefined()
    }
  })

  it("reads Parquet with ranged GETs only: the footer, then just the column chunks asked for", async () => {
    const local = path.join(tmp(), "wide.parquet")
    const rows = Array.from({ length: 30_000 }, (_, i) => ({ id: i, payload: `payload-${i}-${"x".repeat(40)}`, score: i / 7 }))
    await writeItems(local, "parquet", rows, { rowGroupSize: 10_000, compression: "none" })
    const size = fs.statSync(local).size
    await put("s3://data/read/wide.parquet", fs.readFileSync(local))
    const before = requestsFor("data", "read/wide.parquet").length
    const counters = new CounterSet()
    const ids = await readRows("s3://data/read/wide.parquet", { kind: "loadParquet", columns: ["id"], counters })
    expect(ids).toEqual(rows.map((r) => ({ id: r.id })))
    const requests = requestsFor("data", "read/wide.parquet").slice(before)
    const gets = requests.filter((r) => r.method === "GET")
    expect(gets.length).toBeGreaterThan(1)
    expect(gets.every((r) => /^bytes=\d+-\d+$/.test(r.range ?? ""))).toBe(true)
    const fetched = gets.reduce((n, r) => { const [a, b] = r.range!.slice(6).split("-").map(Number); return n + b! - a! + 1 }, 0)
    // The payload column (most of the file) is never fetched.
    expect(fetched).toBeLessThan(size / 2)
    expect(counters.snapshot()["zephyr/bytes_read"]?.value).toBe(fetched)
    expect(await Readers.splitFile("s3://data/read/wide.parquet", 1)).toEqual([{ start: 0, end: 10_000 }, { start: 10_000, end: 20_000 }, { start: 20_000, end: 30_000 }])
    expect(requestsFor("data", "read/wide.parquet").slice(before).every((r) => r.method !== "GET" || r.range !== undefined)).toBe(true)
  })

  it("reports a missing object as missing input, and a missing bucket naming the endpoint option", async () => {
    const missing = await rejection(readRows("s3://data/read/none.jsonl"))
    expect(missing).toMatchObject({ _tag: "ZephyrWorkerError", reason: "missing-input", file: "s3://data/read/none.jsonl" })
    expect(missing.message).toContain("s3://data/read/none.jsonl does not exist")
    const noBucket = await rejection(readRows("s3://nope/read/x.jsonl"))
    expect(noBucket).toMatchObject({ reason: "missing-input" })
    expect(noBucket.message).toMatch(/The bucket "nope" does not exist .* fix the endpoint: it is set by --s3-endpoint \/ option s3Endpoint\./)
  })
})

describe("writing objects", () => {
  /** Items of about `mib` MiB of JSON lines, in chunks; `onHalf` runs after half of them. */
  async function* items(mib: number, onHalf: () => Promise<void>, fail = false): AsyncGenerator<ReadonlyArray<unknown>> {
    const chunk = Array.from({ length: 1024 }, (_, i) => ({ i, pad: "p".repeat(1000) }))
    const chunks = Math.ceil((mib << 20) / (1024 * 1010))
    for (let c = 0; c < chunks; c++) {
      if (c === Math.floor(chunks / 2)) {
        await onHalf()
        if (fail) throw new Error("the producer failed half-way")
      }
      yield chunk
    }
  }

  const stat = async (url: string) => (await ObjectStore.s3()).stat(url)
  const keysUnder = async (bucket: string, prefix: string) => {
    const out: Array<string> = []
    for await (const o of (await ObjectStore.s3()).list(bucket, prefix)) out.push(o.key)
    return out
  }

  it("shows no object, partial or whole, before the write completes; then the whole file at once", async () => {
    const url = "s3://out/atomic/big.jsonl"
    let seenMidway: unknown = "not checked"
    const written = await Writers.write({ path: url, format: "jsonl", options: {}, counters: new CounterSet() }, items(20, async () => {
      seenMidway = { stat: await stat(url), keys: await keysUnder("out", "atomic/") }
    }))
    // Half-way through, at least one 8 MiB part was uploaded: the upload exists, the object does not.
    expect(seenMidway).toEqual({ stat: undefined, keys: [] })
    expect(requestsFor("out", "atomic/big.jsonl").filter((r) => r.method === "PUT" && r.query.includes("partNumber=")).length).toBeGreaterThan(1)
    expect((await stat(url))?.size).toBe(written.bytes)
    expect(written.rows).toBe(Math.ceil((20 << 20) / (1024 * 1010)) * 1024)
  })

  it("reads back every row of files just over one part, whatever the upload's timing", async () => {
    for (const mib of [9, 17]) {
      const url = `s3://out/parts/${mib}.jsonl`
      const written = await Writers.write({ path: url, format: "jsonl", options: {}, counters: new CounterSet() }, items(mib, async () => {}))
      expect((await stat(url))?.size).toBe(written.bytes)
      expect((await readRows(url)).length).toBe(written.rows)
    }
  })

  it("leaves nothing under the key when the write fails, and aborts its upload", async () => {
    const url = "s3://out/failed/big.jsonl"
    const error = await rejection(Writers.write({ path: url, format: "jsonl", options: {}, counters: new CounterSet() }, items(20, async () => {}, true)))
    expect(error.message).toBe("the producer failed half-way")
    expect(await stat(url)).toBeUndefined()
    expect(await keysUnder("out", "failed/")).toEqual([])
    expect(requestsFor("out", "failed/big.jsonl").some((r) => r.method === "DELETE" && r.query.includes("uploadId="))).toBe(true)
  })

  it("writes small files with one PUT, gzip and Parquet included", async () => {
    await writeItems("s3://out/small/a.jsonl.gz", "jsonl", [{ a: 1 }, { a: 2 }])
    await writeItems("s3://out/small/b.parquet", "parquet", [{ b: "x" }, { b: "y" }])
    expect(await readRows("s3://out/small/a.jsonl.gz")).toEqual([{ a: 1 }, { a: 2 }])
    expect(await readRows("s3://out/small/b.parquet")).toEqual([{ b: "x" }, { b: "y" }])
    expect(requestsFor("out", "small/a.jsonl.gz").filter((r) => r.method !== "GET").map((r) => r.method)).toEqual(["PUT"])
  })

  it("publishes only the accepted attempt: each attempt's upload stays incomplete (invisible) until the coordinator completes it", async () => {
    const target = "s3://out/commit/part-00000.jsonl"
    const attempt = async (n: number) => {
      const pending = OutputCommit.pendingPath(target, n)
      const written = await Writers.write({ path: target, format: "jsonl", options: {}, counters: new CounterSet(), staged: pending }, (async function* () { yield [{ attempt: n }] })())
      return OutputCommit.of(target, pending, written.upload)
    }
    const first = await attempt(0)
    const second = await attempt(1)
    expect(first).toMatchObject({ target, pending: expect.any(String), parts: [[1, expect.any(String)]] })
    expect(OutputCommit.isPending(first) && OutputCommit.isRemote(first)).toBe(true)
    expect(await stat(target)).toBeUndefined()
    expect(await keysUnder("out", "commit/")).toEqual([])
    await OutputCommit.discardRemote(first)
    expect(await OutputCommit.publishRemote(second)).toBeUndefined()
    expect(await readRows(target)).toEqual([{ attempt: 1 }])
    expect(await keysUnder("out", "commit/")).toEqual(["commit/part-00000.jsonl"])
    // A commit that names no upload of an attempt is refused; a finished or unknown upload cannot be published.
    expect(await OutputCommit.publishRemote({ ...second, parts: [] })).toMatch(/^Refused/)
    expect(await OutputCommit.publishRemote({ ...second, pending: "no-such-upload" })).toMatch(/^Could not publish the output s3:\/\/out\/commit\/part-00000\.jsonl/)
  })
})

describe("object storage errors name the URL and the option at fault", () => {
  it("access denied: the credentials' variables are named, never their values", async () => {
    const saved = process.env.AWS_ACCESS_KEY_ID
    process.env.AWS_ACCESS_KEY_ID = "NOT-A-KEY-OF-THIS-STORE"
    try {
      const store = new S3Store(S3Options.resolve({ endpoint: server().endpoint }, {}))
      const error = DataError.fromObjectStore(await store.readFile("s3://data/read/lines.txt").catch((e) => e)) as Error
      expect(error).toMatchObject({ _tag: "ZephyrWorkerError", reason: "storage-access", file: "s3://data/read/lines.txt" })
      expect(error.message).toMatch(/^Access denied to read s3:\/\/data\/read\/lines\.txt at http:\/\/127\.0\.0\.1:\d+ \(InvalidAccessKeyId: .*\)\. Check the credentials of this process \(AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY/)
      expect(error.message).not.toContain(credentials.AWS_SECRET_ACCESS_KEY)
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved
    }
  })

  it("a bad endpoint: the endpoint and the option that set it", async () => {
    const store = new S3Store(S3Options.resolve({ endpoint: "http://127.0.0.1:9" }, {}))
    const error = DataError.fromObjectStore(await store.readFile("s3://data/x.jsonl").catch((e) => e)) as Error
    expect(error).toMatchObject({ _tag: "ZephyrWorkerError", reason: "storage-access" })
    expect(error.message).toMatch(/^Cannot reach the object store at http:\/\/127\.0\.0\.1:9 to read s3:\/\/data\/x\.jsonl: .*ECONNREFUSED.*\. Check the endpoint: it is set by --s3-endpoint \/ option s3Endpoint\.$/)
    const fromEnv = new S3Store(S3Options.resolve({}, { AWS_ENDPOINT_URL: "http://127.0.0.1:9" }))
    expect((await fromEnv.stat("s3://data/x.jsonl").catch((e) => e)).message).toContain("Check the endpoint: it is set by $AWS_ENDPOINT_URL.")
  })
})

describe("reading local files", () => {
  it("hands out a file in READ_CHUNK pieces, every byte once and in order, counting each piece as it is handed out", async () => {
    // Over two of the store's 1 MiB reads and not a multiple of anything, so the last read
    // and the last piece are short.
    const file = path.join(tmp(), "big.bin")
    const bytes = Buffer.alloc(2 * 2 ** 20 + 12_345)
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + (i >> 13)) & 0xff
    fs.writeFileSync(file, bytes)
    const state = { read: 0, size: 0 }
    const counted: Array<number> = []
    const pieces: Array<Buffer> = []
    for await (const piece of ObjectStore.of(file).chunks(file, (n) => counted.push(n), state)) {
      pieces.push(Buffer.from(piece))
      // What was counted is what was handed out so far: a failure names the offset it reached.
      expect(state.read).toBe(pieces.reduce((n, p) => n + p.length, 0))
    }
    expect(Buffer.concat(pieces).equals(bytes)).toBe(true)
    expect(pieces.slice(0, -1).every((p) => p.length === ObjectStore.READ_CHUNK)).toBe(true)
    expect(pieces.at(-1)!.length).toBe(bytes.length % ObjectStore.READ_CHUNK)
    expect(counted).toEqual(pieces.map((p) => p.length))
    expect(state.size).toBe(bytes.length)
  })

  it("reads a small file with a buffer of its size, not of the store's large reads", async () => {
    const file = path.join(tmp(), "small.jsonl")
    fs.writeFileSync(file, "{\"a\":1}\n")
    const pieces: Array<Buffer> = []
    for await (const piece of ObjectStore.of(file).chunks(file, () => {}, { read: 0, size: 0 })) pieces.push(piece)
    expect(Buffer.concat(pieces).toString()).toBe("{\"a\":1}\n")
    // Thousands of small files would otherwise each hold (and fault in) a 1 MiB buffer.
    expect(pieces.every((p) => p.buffer.byteLength <= ObjectStore.READ_CHUNK)).toBe(true)
  })

  it("reads an empty file as no pieces", async () => {
    const file = path.join(tmp(), "empty.bin")
    fs.writeFileSync(file, "")
    const pieces: Array<Uint8Array> = []
    for await (const piece of ObjectStore.of(file).chunks(file, () => {}, { read: 0, size: 0 })) pieces.push(piece)
    expect(pieces).toEqual([])
  })
})
