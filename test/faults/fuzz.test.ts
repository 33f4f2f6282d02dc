import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import fc from "fast-check"
import { afterEach, describe, expect, it } from "vitest"
import { Zephyr } from "zephyr"
import * as Frames from "../../rpc/Frames.ts"
import * as RawClient from "../rpc/RawClient.ts"

// Random bytes, huge length prefixes, junk frames and calls before Hello, on 200
// connections to a coordinator's port while a real run on real worker processes goes on.
const TOKEN = "fuzz-token-6b1f0c"
const CONNECTIONS = 200
const AT_ONCE = 10

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as net.AddressInfo).port
    s.close(() => resolve(port))
  })
})

const children: Array<ChildProcess> = []
afterEach(() => { for (const c of children.splice(0)) c.kill("SIGKILL") })

const header = (length: number): Uint8Array => {
  const h = Buffer.alloc(4)
  h.writeUInt32BE(length)
  return h
}
const framed = (value: unknown): Uint8Array => Frames.makeCodec().frame(value)
const call = (tag: string, payload: unknown) => framed({ _tag: "Request", id: "1", tag, payload, headers: [] })

/** What one fuzzing connection sends, as packets. */
const attack: fc.Arbitrary<ReadonlyArray<Uint8Array>> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 4096 }).map((b) => [b]),
  fc.tuple(fc.integer({ min: (1 << 20) + 1, max: 0xffff_ffff }), fc.uint8Array({ maxLength: 1024 })).map(([n, tail]) => [header(n), tail]),
  fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((body) => [header(body.byteLength), body]),
  fc.jsonValue().map((v) => [framed(v)]),
  fc.tuple(fc.constantFrom("Status", "Register", "Pull", "Heartbeat", "Abort", "Hello", "NoSuchCall"), fc.jsonValue()).map(([tag, payload]) => [call(tag, payload)]),
  fc.tuple(fc.string(), fc.string()).map(([workerId, token]) => [call("Hello", { workerId, token }), call("Pull", { workerId, reports: [], max: 8 })]),
  fc.tuple(fc.uint8Array({ minLength: 8, maxLength: 4096 }), fc.array(fc.nat(), { maxLength: 6 })).map(([b, cuts]) => {
    const points = [...new Set(cuts.map((c) => c % b.byteLength))].sort((x, y) => x - y)
    return [...points, b.byteLength].map((p, i) => b.subarray(i === 0 ? 0 : points[i - 1]!, p))
  })
)

/** Sends one attack; resolves with what the coordinator answered, once it closed or we gave up. */
const fuzzOne = async (port: number, packets: ReadonlyArray<Uint8Array>): Promise<Buffer> => {
  const c = await RawClient.connect(port)
  for (const p of packets) if (p.byteLength > 0 && !c.isClosed()) await c.sendBytes(p)
  await Promise.race([c.closed, new Promise((r) => setTimeout(r, 300))])
  c.socket.destroy()
  return c.received()
}

describe("fuzzing the coordinator's port", () => {
  it(`${CONNECTIONS} connections of junk while a real run proceeds: the run completes with the right output, and no junk learns anything`, async () => {
    const port = await freePort()
    const run = Zephyr.runModule<number>("test/faults/fixtures/tiny.ts", { backend: "external", listen: `127.0.0.1:${port}`, token: TOKEN, workers: 2 })
    // The coordinator listens once the run has planned.
    let fingerprint: string | undefined
    for (let i = 0; i < 600 && fingerprint === undefined; i++) {
      const spec = await RawClient.connect(port).then(async (c) => {
        c.send(RawClient.request("Hello", { workerId: "fuzz-check", token: TOKEN }))
        const answer = RawClient.successOf(await c.next()) as { fingerprint?: string } | undefined
        c.socket.destroy()
        return answer
      }, () => undefined)
      fingerprint = spec?.fingerprint
      if (fingerprint === undefined) await new Promise((r) => setTimeout(r, 100))
    }
    expect(fingerprint).toBeDefined()

    const attacks = fc.sample(attack, { seed: 20_240_917, numRuns: CONNECTIONS })
    let next = 0
    const answers: Array<Buffer> = []
    const fuzzing = Promise.all(Array.from({ length: AT_ONCE }, async () => {
      while (next < attacks.length) answers.push(await fuzzOne(port, attacks[next++]!))
    }))
    for (let i = 0; i < 2; i++) {
      const { ZEPHYR_TOKEN: _, ...env } = process.env
      const child = spawn(process.execPath, ["bin/zephyr.js", "worker", "--coordinator", `127.0.0.1:${port}`, "--worker-id", `fuzzed-w${i}`], { stdio: ["ignore", "ignore", "inherit"], env: { ...env, ZEPHYR_TOKEN: TOKEN } })
      children.push(child)
    }
    const [result] = await Promise.all([run, fuzzing])
    expect(result.results).toEqual(Array.from({ length: 256 }, (_, i) => i * 2))
    expect(answers).toHaveLength(CONNECTIONS)
    expect(answers.filter((a) => a.includes(fingerprint!))).toEqual([])
  }, 120_000)
})
