import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
// @ts-expect-error: a plain JavaScript build script, without type declarations
import * as Build from "../../scripts/build.mjs"

const root = path.resolve(import.meta.dirname, "../..")

describe("the built engine", () => {
  it("dist/ is exactly what the sources build to, so no test runs stale code", async () => {
    const stale: Array<string> = await Build.staleFiles()
    expect(stale, "run `npm run build`").toEqual([])
  }, 120_000)

  it("`import \"zephyr\"` resolves to the bundle, and the CLI shares its chunks", async () => {
    expect(createRequire(import.meta.url).resolve("zephyr")).toBe(path.join(root, "dist", "index.js"))
    const index = fs.readFileSync(path.join(root, "dist", "index.js"), "utf8")
    const cli = fs.readFileSync(path.join(root, "dist", "cli.js"), "utf8")
    const chunksOf = (code: string) => [...code.matchAll(/"\.\/chunks\/([^"]+)"/g)].map((m) => m[1])
    // One engine in a process: the user's module and the CLI import the same chunk.
    expect(chunksOf(index).length).toBeGreaterThan(0)
    expect(chunksOf(cli)).toEqual(expect.arrayContaining(chunksOf(index)))
  })

  it("loads the AWS SDK only when an s3:// path is used: its chunk is reached by a dynamic import, never from an entry's static imports", () => {
    const chunks = path.join(root, "dist", "chunks")
    const sdk = fs.readdirSync(chunks).filter((f) => f.startsWith("S3Store-"))
    expect(sdk).toHaveLength(1)
    expect(fs.readFileSync(path.join(chunks, sdk[0]!), "utf8")).toMatch(/\bS3Client\d* = class\b/)
    const loaded = new Set<string>()
    const visit = (file: string) => {
      if (loaded.has(file)) return
      loaded.add(file)
      const code = fs.readFileSync(file, "utf8")
      for (const m of code.matchAll(/^import\s(?:[^;]*?\sfrom\s*)?"(\.\.?\/[^"]+)"/gm)) visit(path.resolve(path.dirname(file), m[1]!))
    }
    for (const entry of ["index.js", "cli.js", "worker.js", "early-workers.js"]) visit(path.join(root, "dist", entry))
    expect(loaded.size).toBeGreaterThan(4)
    for (const file of loaded) expect(fs.readFileSync(file, "utf8"), path.relative(root, file)).not.toMatch(/\bS3Client\d* = class\b/)
    const dynamic = [...loaded].filter((f) => fs.readFileSync(f, "utf8").includes(`import("./${sdk[0]}")`))
    expect(dynamic).toHaveLength(1)
  })

  it("the engine's own modules never go through the TypeScript loader", () => {
    for (const file of ["index.js", "cli.js"]) {
      expect(fs.readFileSync(path.join(root, "dist", file), "utf8")).not.toMatch(/from\s*"[^"]+\.ts"/)
    }
  })
})
