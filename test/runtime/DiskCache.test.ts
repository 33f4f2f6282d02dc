import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { promisify } from "node:util"
import { Effect, Logger } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { diskCache, pathFor } from "../../runtime/DiskCache.ts"

const exec = promisify(execFile)
let dir: string
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-cache-")) })
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

describe("diskCache", () => {
  it("runs the Effect once per argument fingerprint and reuses the stored result", async () => {
    let runs = 0
    const square = diskCache("square", (n: number, opts: { plus: number }) => Effect.sync(() => { runs++; return { value: n * n + opts.plus, at: new Date(0), big: 2n ** 70n } }), { dir })
    const a = await Effect.runPromise(square(3, { plus: 1 }))
    const b = await Effect.runPromise(square(3, { plus: 1 }))
    const c = await Effect.runPromise(square(4, { plus: 1 }))
    expect(a).toEqual({ value: 10, at: new Date(0), big: 2n ** 70n })
    expect(b).toEqual(a)
    expect(c.value).toBe(17)
    expect(runs).toBe(2)
    expect(fs.existsSync(pathFor("square", [3, { plus: 1 }], { dir }))).toBe(true)
  })

  it("survives the process: a new cache object over the same directory hits", async () => {
    await Effect.runPromise(diskCache("once", () => Effect.succeed(1), { dir })())
    let ran = false
    expect(await Effect.runPromise(diskCache("once", () => Effect.sync(() => { ran = true; return 2 }), { dir })())).toBe(1)
    expect(ran).toBe(false)
  })

  it("does not store a failure", async () => {
    let calls = 0
    const flaky = diskCache("flaky", () => Effect.suspend(() => (++calls === 1 ? Effect.fail("nope") : Effect.succeed("ok"))), { dir })
    expect(await Effect.runPromise(Effect.either(flaky()))).toMatchObject({ _tag: "Left", left: "nope" })
    expect(await Effect.runPromise(flaky())).toBe("ok")
  })

  it("racing processes agree on one value: the first to publish wins and the others read it", async () => {
    const racers = await Promise.all(Array.from({ length: 4 }, () =>
      exec(process.execPath, ["--import", "tsx", "test/runtime/fixtures/cache-racer.ts", dir], { encoding: "utf8" })))
    const values = racers.map((r) => r.stdout.trim())
    expect(new Set(values).size).toBe(1)
    expect(values[0]).toMatch(/^k:0\.\d+/)
    expect(fs.readdirSync(dir).filter((f) => !f.includes(".tmp-"))).toHaveLength(1)
    expect(fs.readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([])
  })

  it.each([
    ["truncated", (bytes: Buffer) => bytes.subarray(0, bytes.length - 3)],
    ["garbage", () => Buffer.from([0xc1, 0xc1, 0xc1])],
    ["empty", () => Buffer.alloc(0)],
    ["another value", () => Buffer.from([0x2a])]
  ])("an unreadable entry (%s) is a miss with a warning, and is replaced", async (_name, corrupt) => {
    const file = pathFor("doubled", [21], { dir })
    let runs = 0
    const doubled = diskCache("doubled", (n: number) => Effect.sync(() => { runs++; return n * 2 }), { dir })
    expect(await Effect.runPromise(doubled(21))).toBe(42)
    fs.writeFileSync(file, corrupt(fs.readFileSync(file)))
    const logged: Array<string> = []
    const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ logLevel, message }) => { logged.push(`${logLevel.label} ${String(message)}`) }))
    expect(await Effect.runPromise(doubled(21).pipe(Effect.provide(capture)))).toBe(42)
    expect(runs).toBe(2)
    expect(logged).toHaveLength(1)
    expect(logged[0]).toMatch(new RegExp(`^WARN diskCache\\("doubled"\\): the entry ${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} is unreadable \\(.+\\); computing it again$`))
    expect(await Effect.runPromise(doubled(21))).toBe(42)
    expect(runs).toBe(2) // the entry was replaced by a readable one
    expect(fs.readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([])
  })
})
