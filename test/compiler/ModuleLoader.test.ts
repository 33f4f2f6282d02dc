import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Pipeline, Zephyr, ZephyrPlanError } from "zephyr"
import { useTempDirs } from "../TempDirs.ts"

const tempDir = useTempDirs("zephyr-module-")

const fixture = "test/compiler/fixtures/modules"

describe("pipeline modules", () => {
  it("detects a non-deterministic pipeline: two builds give different fingerprints", async () => {
    const a = Zephyr.compile((await Pipeline.load(`${fixture}/nondeterministic.ts`)).dataset)
    const b = Zephyr.compile((await Pipeline.load(`${fixture}/nondeterministic.ts`)).dataset)
    expect(a.fingerprint).not.toBe(b.fingerprint)
  })

  it("gives the same fingerprint to two builds of a deterministic module", async () => {
    const a = Zephyr.compile((await Pipeline.load("examples/join.ts")).dataset)
    const b = Zephyr.compile((await Pipeline.load("examples/join.ts")).dataset)
    expect(a.fingerprint).toBe(b.fingerprint)
  })

  it("passes --arg values to a function export chosen with --export", async () => {
    const loaded = await Pipeline.load(`${fixture}/args.ts`, { export: "numbers", args: { shards: "5" } })
    expect(Zephyr.compile(loaded.dataset).stages[0]!.shards.out).toBe(5)
    expect(loaded.module).toMatchObject({ export: "numbers", args: { shards: "5" } })
  })

  it("names the missing export and lists the ones that exist", async () => {
    await expect(Pipeline.load(`${fixture}/args.ts`)).rejects.toThrow(/no export named "default"; it exports: notADataset, numbers/)
  })

  it("refuses an export that is not a dataset", async () => {
    const err = await Pipeline.load(`${fixture}/args.ts`, { export: "notADataset" }).catch((e) => e)
    expect(err).toBeInstanceOf(ZephyrPlanError)
    expect(err.message).toMatch(/must be a Dataset or a function/)
  })

  it("reports a builder that throws, with the module named", async () => {
    const err = await Pipeline.load(`${fixture}/args.ts`, { export: "numbers", args: { shards: "x" } }).catch((e) => e)
    expect(err.message).toMatch(/args\.ts.*--arg shards=x: expected an integer/)
  })

  it("reports a missing module", async () => {
    await expect(Pipeline.load("nope/missing.ts")).rejects.toThrow(/does not exist/)
  })

  it("says where an import cannot be resolved and how to install the package", async () => {
    // A module written outside any project that has zephyr installed.
    const outside = path.join(tempDir(), "outside.ts")
    fs.writeFileSync(outside, 'import { Dataset } from "zephyr"\nexport default () => Dataset.fromList([1])\n')
    const err = await Pipeline.load(outside).catch((e) => e)
    expect(err).toBeInstanceOf(ZephyrPlanError)
    expect(err.reason).toBe("module-import-failed")
    // The location is as esbuild gives it: relative to the working directory when that is shorter.
    expect(err.message).toContain(`outside.ts:1:25: Could not resolve "zephyr": no zephyr package is installed where outside.ts can import it; install it in the module's project (npm install zephyr)`)
    // A scoped package's name is the scope and the name, not the path inside it.
    const missing = path.join(fixture, ".scratch-missing-package.ts")
    fs.writeFileSync(missing, 'import { Dataset } from "zephyr"\nimport { f } from "@no-such-scope/no-such-package/deep"\nexport default () => Dataset.fromList([1]).map(f)\n')
    try {
      const err2 = await Pipeline.load(missing).catch((e) => e)
      expect(err2.message).toContain('.scratch-missing-package.ts:2:19: Could not resolve "@no-such-scope/no-such-package/deep": no @no-such-scope/no-such-package package is installed')
      expect(err2.message).toContain("(npm install @no-such-scope/no-such-package)")
    } finally {
      fs.rmSync(missing, { force: true })
    }
  })
})
