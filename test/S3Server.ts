import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import S3rver from "s3rver"
import { afterAll, beforeAll } from "vitest"

/**
 * A real S3-compatible server for tests: s3rver on 127.0.0.1, an ephemeral port, its data in
 * a temp directory; started before the file's tests and stopped (directory removed) after.
 * It records every request it serves, so tests can assert how objects were read (ranged
 * GETs) or written. s3rver accepts the access key `S3RVER` (it does not check SigV4
 * signatures, but refuses an unknown access key with 403 InvalidAccessKeyId). It cannot
 * continue a truncated listing (its continuation token needs a cipher OpenSSL 3 lacks): a
 * test lists at most 1,000 keys under a prefix.
 */
export interface Request {
  readonly method: string
  readonly bucket: string
  /** The object key, decoded; "" for a bucket request. */
  readonly key: string
  readonly query: string
  readonly range: string | undefined
}

export interface S3Server {
  readonly endpoint: string
  readonly port: number
  /** The server's files (buckets as directories). */
  readonly dir: string
  readonly requests: Array<Request>
  /** What a process needs in its environment to reach the server with valid credentials. */
  readonly env: Readonly<Record<string, string>>
}

export const credentials = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER", AWS_REGION: "us-east-1", AWS_EC2_METADATA_DISABLED: "true" } as const

export const useS3Server = (buckets: ReadonlyArray<string>): (() => S3Server) => {
  let server: S3rver | undefined
  let state: S3Server | undefined
  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-s3rver-"))
    server = new S3rver({ address: "127.0.0.1", port: 0, directory: dir, silent: true, configureBuckets: buckets.map((name) => ({ name })) })
    const { port } = await server.run()
    const requests: Array<Request> = []
    server.httpServer.on("request", (req: { method?: string; url?: string; headers: Record<string, string | Array<string> | undefined> }) => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      const [, bucket = "", ...key] = url.pathname.split("/")
      const range = req.headers.range
      requests.push({ method: req.method ?? "", bucket, key: decodeURIComponent(key.join("/")), query: url.search, range: typeof range === "string" ? range : undefined })
    })
    const endpoint = `http://127.0.0.1:${port}`
    state = { endpoint, port, dir, requests, env: { ...credentials, AWS_ENDPOINT_URL: endpoint } }
  })
  afterAll(async () => {
    await server?.close()
    if (state) fs.rmSync(state.dir, { recursive: true, force: true })
  })
  return () => {
    if (!state) throw new Error("The S3 server is not running (useS3Server must be called at the top of a test file)")
    return state
  }
}
