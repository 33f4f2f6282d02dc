import * as fs from "node:fs"
import { describe, expect, it } from "vitest"

// npm 11 runs no dependency's install script unless package.json's `allowScripts` approves
// it, and ends `npm ci` with a warning for each one it was not told about.
describe("package.json", () => {
  it("settles every install script in the lockfile: approved or denied in allowScripts", () => {
    const pkg = JSON.parse(fs.readFileSync("package.json", "utf8")) as { allowScripts?: Record<string, boolean> }
    const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8")) as { packages: Record<string, { hasInstallScript?: boolean }> }
    const withScripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript === true).map(([at]) => at.slice(at.lastIndexOf("node_modules/") + "node_modules/".length))
    expect(withScripts.length).toBeGreaterThan(0)
    // Name-only keys: the lockfile has no resolved URLs, which npm needs to trust a pinned version.
    const settled = Object.keys(pkg.allowScripts ?? {})
    expect([...new Set(withScripts)].sort()).toEqual([...settled].sort())
    for (const value of Object.values(pkg.allowScripts ?? {})) expect(typeof value).toBe("boolean")
  })
})
