import { Schema } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import * as ObjectStore from "../../runtime/storage/ObjectStore.ts"
import * as S3Options from "../../runtime/storage/S3Options.ts"
import { credentials, useS3Server } from "../S3Server.ts"

// The public API with object storage, against a real S3-compatible server on 127.0.0.1.
const server = useS3Server(["in", "out", "chunks"])
beforeAll(() => {
  // Local worker processes inherit the credentials; the endpoint reaches them in the job spec.
  Object.assign(process.env, credentials)
  ObjectStore.configure(S3Options.resolve({ endpoint: server().endpoint }, {}))
})
const put = async (url: string, text: string) => (await ObjectStore.s3()).writeFile(url, Buffer.from(text))
const text = async (url: string) => Buffer.from((await (await ObjectStore.s3()).readFile(url))!).toString("utf8")
const keys = async (bucket: string, prefix: string) => {
  const out: Array<string> = []
  for await (const o of (await ObjectStore.s3()).list(bucket, prefix)) out.push(o.key)
  return out
}

describe("object storage through the API", { timeout: 180_000 }, () => {
  it("local worker processes read shared values and chunks from a chunk directory in S3", async () => {
    await put("s3://in/lines/a.txt", "one\ntwo\n")
    await put("s3://in/lines/b.txt", "three\n")
    const before = server().requests.length
    const { results } = await Zephyr.runModule<string>("test/zephyr/fixtures/object-storage.ts", {
      workers: 2, chunkDir: "s3://chunks/api", s3Endpoint: server().endpoint, shared: { prefix: "#" }, args: { input: "s3://in/lines/*.txt" }
    })
    expect(results).toEqual(["#ONE", "#TWO", "#THREE"])
    const shared = server().requests.slice(before).filter((r) => r.bucket === "chunks" && r.key.endsWith("/shared/prefix.msgpack"))
    expect(shared.map((r) => r.method)).toEqual(expect.arrayContaining(["PUT", "GET"]))
    expect(await keys("chunks", "api/")).toEqual([])
  })

  it("an attempt that fails half-way through its write leaves no object; only the retry's upload is completed", async () => {
    let failures = 0
    const rows = function* () {
      for (let i = 0; i < 16_000; i++) {
        // About 13 MB in (three 4,096-row chunks written): the first 8 MiB part of this attempt's upload was sent.
        if (i === 13_000 && failures++ === 0) throw new Error("fails once, half-way")
        yield { i, pad: "x".repeat(1000) }
      }
    }
    const before = server().requests.length
    const r = await Zephyr.run(Dataset.fromList([0]).flatMap(rows).writeJsonl("s3://out/retry/part-{shard}.jsonl"), { s3Endpoint: server().endpoint })
    expect(r.results).toEqual(["s3://out/retry/part-0.jsonl"])
    expect(failures).toBe(2)
    expect(await keys("out", "retry/")).toEqual(["retry/part-0.jsonl"])
    expect((await text("s3://out/retry/part-0.jsonl")).trim().split("\n")).toHaveLength(16_000)
    const requests = server().requests.slice(before).filter((r) => r.key === "retry/part-0.jsonl")
    const created = requests.filter((r) => r.method === "POST" && r.query.includes("uploads"))
    const completed = requests.filter((r) => r.method === "POST" && r.query.includes("uploadId="))
    expect(created).toHaveLength(2)
    expect(completed).toHaveLength(1)
    expect(requests.filter((r) => r.method === "DELETE" && r.query.includes("uploadId="))).toHaveLength(1)
  })

  it("skipExisting skips a shard whose object exists, without running it", async () => {
    const ds = Dataset.fromList([1, 2, 3]).map((n) => ({ n })).writeJsonl("s3://out/skip/part-{shard}.jsonl", { skipExisting: true })
    await put("s3://out/skip/part-1.jsonl", "kept\n")
    const r = await Zephyr.run(ds, { chunkDir: "s3://chunks/skip", s3Endpoint: server().endpoint })
    expect(r.results).toEqual(["s3://out/skip/part-0.jsonl", "s3://out/skip/part-1.jsonl", "s3://out/skip/part-2.jsonl"])
    expect(r.counters["zephyr/shards_skipped"]).toBe(1)
    expect(await text("s3://out/skip/part-1.jsonl")).toBe("kept\n")
    expect(await text("s3://out/skip/part-2.jsonl")).toBe('{"n":3}\n')
  })

  it("quarantined rows go to a side object under the output's folder", async () => {
    await put("s3://in/docs/a.jsonl", '{"id":1}\n{"id":"two"}\n{"id":3}\n')
    const Doc = Schema.Struct({ id: Schema.Number })
    const r = await Zephyr.run(Dataset.readJsonl("s3://in/docs/*.jsonl", { schema: Doc, onBadRow: "quarantine" }).writeJsonl("s3://out/docs/docs-{shard}.jsonl"), { s3Endpoint: server().endpoint })
    expect(r.counters["zephyr/rows_dropped"]).toBe(1)
    const side = await keys("out", "docs/_quarantine/")
    expect(side).toHaveLength(1)
    const rows = (await text(`s3://out/${side[0]}`)).trim().split("\n").map((l) => JSON.parse(l) as { file: string; line: number })
    expect(rows).toMatchObject([{ file: "s3://in/docs/a.jsonl", line: 2 }])
    expect(await text("s3://out/docs/docs-0.jsonl")).toBe('{"id":1}\n{"id":3}\n')
  })
})
