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

  it("the engine's own modules never go through the TypeScript loader", () => {
    for (const file of ["index.js", "cli.js"]) {
      expect(fs.readFileSync(path.join(root, "dist", file), "utf8")).not.toMatch(/from\s*"[^"]+\.ts"/)
    }
  })
})
