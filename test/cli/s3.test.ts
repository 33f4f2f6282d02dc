import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest"
import * as ObjectStore from "../../runtime/storage/ObjectStore.ts"
import * as S3Options from "../../runtime/storage/S3Options.ts"
import { credentials, useS3Server } from "../S3Server.ts"

// `zephyr run` with inputs, outputs and the chunk directory in object storage, against a
// real S3-compatible server on 127.0.0.1 (s3rver), with local worker processes.
const exec = promisify(execFile)
const server = useS3Server(["in", "out", "chunks"])
let dir: string
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-cli-s3-")) })
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))
beforeAll(() => {
  Object.assign(process.env, credentials)
  ObjectStore.configure(S3Options.resolve({ endpoint: server().endpoint }, {}))
})

/**
 * The CLI with the server's credentials in its environment but not its endpoint: the
 * driver gets that from --s3-endpoint, its local workers only through their job spec.
 */
const zephyr = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>> = credentials) => {
  const { AWS_ENDPOINT_URL: _e, AWS_ENDPOINT_URL_S3: _s, ...rest } = process.env
  return exec(process.execPath, ["bin/zephyr.js", ...args], { encoding: "utf8", env: { ...rest, ...env } })
}
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected the run to fail") }, (e: { code: number; stdout: string; stderr: string }) => e)

const store = () => ObjectStore.s3()
const keys = async (bucket: string, prefix: string) => {
  const out: Array<string> = []
  for await (const o of (await store()).list(bucket, prefix)) out.push(o.key)
  return out
}
const text = async (url: string) => Buffer.from((await (await store()).readFile(url))!).toString("utf8")

const events = (file: number) =>
  Array.from({ length: 3000 }, (_, i) => JSON.stringify({ user: `u${(i * 7 + file) % 37}`, kind: i % 3 === 0 ? "click" : "view", n: (i * 13 + file) % 11 })).join("\n") + "\n"

describe("zephyr run on object storage", { timeout: 240_000 }, () => {
  it("runs a pipeline with a shuffle with inputs, outputs and chunks in S3, and writes what the same pipeline writes on local files", async () => {
    const local = path.join(dir, "events")
    fs.mkdirSync(local)
    for (let f = 0; f < 3; f++) {
      fs.writeFileSync(path.join(local, `part-${f}.jsonl`), events(f))
      await (await store()).writeFile(`s3://in/events/part-${f}.jsonl`, Buffer.from(events(f)))
    }
    await zephyr(["run", "test/cli/fixtures/events.ts", "--workers", "2", "--no-progress", "--no-check",
      "--arg", `input=${local}/*.jsonl`, "--arg", `out=${path.join(dir, "out")}`, "--chunk-dir", path.join(dir, "chunks")])
    const before = server().requests.length
    await zephyr(["run", "test/cli/fixtures/events.ts", "--workers", "2", "--no-progress", "--no-check", "--s3-endpoint", server().endpoint,
      "--arg", "input=s3://in/events/*.jsonl", "--arg", "out=s3://out/events", "--chunk-dir", "s3://chunks/runs"])
    const written = fs.readdirSync(path.join(dir, "out")).sort()
    expect(written).toEqual(["users-00000-of-3.jsonl", "users-00001-of-3.jsonl", "users-00002-of-3.jsonl"])
    expect(await keys("out", "events/")).toEqual(written.map((f) => `events/${f}`))
    for (const f of written) expect(await text(`s3://out/events/${f}`)).toBe(fs.readFileSync(path.join(dir, "out", f), "utf8"))

    // The chunks went through the bucket: stage outputs, shuffle runs (read back in ranges),
    // manifests and stage records, all removed when the run succeeded.
    const chunkRequests = server().requests.slice(before).filter((r) => r.bucket === "chunks")
    const puts = chunkRequests.filter((r) => r.method === "PUT").map((r) => r.key)
    expect(puts.some((k) => /\/stage-0\/shard-\d+\/a0-.*\.blk$/.test(k))).toBe(true)
    expect(puts.some((k) => /\/stage-2\/scatter\/shard-\d+-a0-[0-9a-f]+\/run-\d+-.*\.zrun$/.test(k))).toBe(true)
    expect(puts.some((k) => /\/stage-2\/scatter\/.*\/manifest-.*\.json$/.test(k))).toBe(true)
    expect(puts.some((k) => /\/stages\/stage-3\.json$/.test(k))).toBe(true)
    const runReads = chunkRequests.filter((r) => r.method === "GET" && r.key.endsWith(".zrun"))
    expect(runReads.length).toBeGreaterThan(0)
    expect(runReads.every((r) => /^bytes=\d+-\d+$/.test(r.range ?? ""))).toBe(true)
    expect(await keys("chunks", "runs/")).toEqual([])
  })

  it("prints the results of a run whose last stage's chunks are in S3 as the local run does", async () => {
    for (let f = 0; f < 2; f++) await (await store()).writeFile(`s3://in/results/part-${f}.jsonl`, Buffer.from(events(f)))
    const local = path.join(dir, "events")
    fs.mkdirSync(local)
    for (let f = 0; f < 2; f++) fs.writeFileSync(path.join(local, `part-${f}.jsonl`), events(f))
    const { stdout: expected } = await zephyr(["run", "test/cli/fixtures/events.ts", "--export", "counts", "--workers", "2", "--no-progress", "--no-check", "--print-results",
      "--arg", `input=${local}/*.jsonl`, "--chunk-dir", path.join(dir, "chunks")])
    const { stdout } = await zephyr(["run", "test/cli/fixtures/events.ts", "--export", "counts", "--workers", "2", "--no-progress", "--no-check", "--print-results",
      "--arg", "input=s3://in/results/*.jsonl", "--chunk-dir", "s3://chunks/results"], { ...credentials, AWS_ENDPOINT_URL: server().endpoint })
    expect(stdout.trim().split("\n")).toHaveLength(37)
    expect(stdout).toBe(expected)
  })

  it("keeps completed stages in S3 when a run fails, and --resume skips them", async () => {
    const common = ["test/cli/fixtures/fails-once.ts", "--workers", "2", "--no-progress", "--no-check", "--s3-endpoint", server().endpoint, "--chunk-dir", "s3://chunks/resume", "--arg", `dir=${dir}`]
    const failed = await failure(zephyr(["run", ...common, "--execution-id", "exec-s3", "--max-shard-failures", "1"]))
    expect(failed.stderr).toContain("the reduce fails once")
    expect(failed.stderr).toContain("--chunk-dir s3://chunks/resume --resume exec-s3")
    expect(await keys("chunks", "resume/exec-s3/stages/")).toEqual(["resume/exec-s3/stages/stage-0.json"])
    expect(fs.readFileSync(path.join(dir, "stage0.log"), "utf8").trim().split("\n")).toHaveLength(6)
    const { stdout, stderr } = await zephyr(["run", ...common, "--resume", "exec-s3", "--print-results"], { ...credentials, ZEPHYR_LOG_LEVEL: "info" })
    expect(stderr).toContain("stage 0 (fromList at test/cli/fixtures/fails-once.ts:10) already completed in exec-s3; skipping it")
    expect(stdout.trim().split("\n").map((l) => JSON.parse(l))).toEqual([{ key: 0, sum: 3 }, { key: 1, sum: 5 }, { key: 2, sum: 7 }])
    expect(fs.readFileSync(path.join(dir, "stage0.log"), "utf8").trim().split("\n")).toHaveLength(6)
    expect(await keys("chunks", "resume/")).toEqual([])
  })

  it("fails with the URL and the option at fault: a missing bucket, refused credentials, a bad endpoint", async () => {
    const run = (input: string, extra: ReadonlyArray<string>, env?: Readonly<Record<string, string>>) =>
      failure(zephyr(["run", "test/cli/fixtures/events.ts", "--workers", "1", "--no-progress", "--no-check", "--arg", `input=${input}`, "--arg", `out=${path.join(dir, "out")}`, ...extra], env))
    const noBucket = await run("s3://no-such-bucket/events/*.jsonl", ["--s3-endpoint", server().endpoint, "--chunk-dir", path.join(dir, "chunks")])
    expect(noBucket.code).toBe(1)
    expect(noBucket.stderr).toMatch(/Cannot list the input "s3:\/\/no-such-bucket\/events\/\*\.jsonl" of readJsonl\(.*\) at test\/cli\/fixtures\/events\.ts:\d+: The bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+ .*fix the endpoint: it is set by --s3-endpoint \/ option s3Endpoint\./)

    const denied = await run("s3://in/events/*.jsonl", ["--s3-endpoint", server().endpoint, "--chunk-dir", "s3://chunks/denied"], { ...credentials, AWS_ACCESS_KEY_ID: "NOT-A-KEY-OF-THIS-STORE" })
    expect(denied.code).toBe(1)
    expect(denied.stderr).toMatch(/Cannot use the chunk directory s3:\/\/chunks\/denied \(--chunk-dir \/ option chunkDir\): Access denied to list s3:\/\/chunks\/denied at http:\/\/127\.0\.0\.1:\d+ \(InvalidAccessKeyId: .*\)\. Check the credentials of this process \(AWS_ACCESS_KEY_ID\/AWS_SECRET_ACCESS_KEY/)
    expect(denied.stderr).not.toContain(credentials.AWS_SECRET_ACCESS_KEY)

    const unreachable = await run("s3://in/events/*.jsonl", ["--s3-endpoint", "http://127.0.0.1:9", "--chunk-dir", path.join(dir, "chunks")])
    expect(unreachable.code).toBe(1)
    expect(unreachable.stderr).toMatch(/Cannot reach the object store at http:\/\/127\.0\.0\.1:9 to list s3:\/\/in\/events\/: .*Check the endpoint: it is set by --s3-endpoint \/ option s3Endpoint\./)
  })

  it("a write into a bucket that does not exist fails the run at once, naming the URL", async () => {
    await (await store()).writeFile("s3://in/one/part-0.jsonl", Buffer.from(events(0)))
    const result = await failure(zephyr(["run", "test/cli/fixtures/events.ts", "--workers", "1", "--no-progress", "--no-check", "--s3-endpoint", server().endpoint,
      "--arg", "input=s3://in/one/*.jsonl", "--arg", "out=s3://no-such-bucket/out", "--chunk-dir", path.join(dir, "chunks")]))
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(/zephyr: Stage 3, shard \d: The bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+ \(to write s3:\/\/no-such-bucket\/out\/users-0000\d-of-3\.jsonl\)\. Check the URL; if the bucket lives on another store, fix the endpoint: workers use the driver's, set there by --s3-endpoint \/ option s3Endpoint or \$AWS_ENDPOINT_URL\./)
  })
})
