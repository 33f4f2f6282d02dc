import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as CodeCache from "../../runtime/CodeCache.ts"
import { useTempDirs } from "../TempDirs.ts"

const tempDir = useTempDirs("zephyr-code-cache-")

describe("CodeCache.save", () => {
  it("writes the cache whole when SIGTERM arrives in the middle of the write, and the process then exits as it was exiting", () => {
    const cache = tempDir()
    fs.chmodSync(cache, 0o700)
    const script = path.join(tempDir(), "script.js")
    fs.writeFileSync(script, Array.from({ length: 200 }, (_, i) => `function f${i}(x) { return x * ${i} + 1 }\nf${i}(${i})\n`).join(""))
    const child = spawnSync(process.execPath, ["--import", "tsx", "test/runtime/fixtures/code-cache-exit.ts", script], {
      encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache }
    })
    expect({ status: child.status, signal: child.signal, stderr: child.stderr }).toEqual({ status: 0, signal: null, stderr: "" })
    const files = fs.readdirSync(cache)
    expect(files.filter((f) => f.endsWith(".tmp"))).toEqual([])
    const written = files.filter((f) => /^script-[0-9a-f]{8}-[0-9a-f]{16}\.v8-code-cache$/.test(f))
    expect(written).toHaveLength(1)
    expect(fs.statSync(path.join(cache, written[0]!)).size).toBeGreaterThan(1000)
  }, 60_000)

  it("is an exit listener: called with the exit code, as Node calls it, it still writes the cache", () => {
    const cache = tempDir()
    fs.chmodSync(cache, 0o700)
    const script = path.join(tempDir(), "exiting.js")
    fs.writeFileSync(script, "function g(x) { return x + 1 }\ng(1)\n")
    const child = spawnSync(process.execPath, ["--import", "tsx", "-e", [
      `import * as fs from "node:fs"`,
      `import * as CodeCache from ${JSON.stringify(path.resolve("runtime/CodeCache.ts"))}`,
      `CodeCache.compile(${JSON.stringify(script)}, fs.readFileSync(${JSON.stringify(script)}, "utf8")).runInThisContext()`,
      `process.once("exit", CodeCache.save)`,
      `process.exitCode = 0`
    ].join("\n")], { encoding: "utf8", env: { ...process.env, ZEPHYR_MODULE_CACHE_DIR: cache } })
    expect({ status: child.status, stderr: child.stderr }).toEqual({ status: 0, stderr: "" })
    expect(fs.readdirSync(cache).filter((f) => /^exiting-[0-9a-f]{8}-[0-9a-f]{16}\.v8-code-cache$/.test(f))).toHaveLength(1)
  }, 60_000)

  it("writes again only for a process that held clearly more code than the cache's writer: 5% more and at least 64 kB", () => {
    const table: Array<[writer: number, now: number, outgrown: boolean]> = [
      [3_000_000, 3_000_000, false],
      [3_000_000, 3_140_000, false],
      [3_000_000, 3_160_000, true],
      [3_000_000, 2_000_000, false],
      [500_000, 560_000, false],
      [500_000, 570_000, true],
      [0, 70_000, true]
    ]
    for (const [writer, now, outgrown] of table) expect(CodeCache.outgrown(writer, now), `${writer} → ${now}`).toBe(outgrown)
  })
})

describe("CodeCache.Header", () => {
  it("records the writer's bytecode before V8's data, which is read past it without a copy", () => {
    const data = Buffer.from("V8's own bytes")
    const file = Buffer.concat([CodeCache.Header.make(1_234_567), data])
    const read = CodeCache.Header.read(file)!
    expect(read.writerBytecode).toBe(1_234_567)
    expect(read.data.equals(data)).toBe(true)
    expect(read.data.buffer).toBe(file.buffer)
  })

  it("a file without the header (damaged, or written before it) is no cache at all", () => {
    for (const file of [Buffer.from("not a code cache"), Buffer.alloc(0), CodeCache.Header.make(5)]) expect(CodeCache.Header.read(file)).toBeUndefined()
  })
})
