import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { Diagnostic, Pipeline, Zephyr } from "zephyr"
import { useTempDirs } from "./helpers.ts"

const tempDir = useTempDirs()
const fixtures = "test/compiler/analysis/fixtures"

describe("Zephyr.check and plan.check()", () => {
  it("give the diagnostics as data, each finding about a DSL call matched to the op explain shows at that line", async () => {
    const file = path.join(fixtures, "lossy-boundary-type.ts")
    const loaded = await Pipeline.load(file)
    const plan = Zephyr.compile(loaded.dataset, { module: loaded.module })
    const diagnostics = await plan.check()
    expect(diagnostics).toEqual(await Zephyr.check(file))
    expect(diagnostics).toEqual(await Zephyr.check(loaded.dataset))
    const ops = new Map(plan.stages.flatMap((s) => s.ops).map((o) => [o.id, o]))
    for (const d of diagnostics) {
      expect(Diagnostic.codes).toContain(d.code)
      const op = ops.get(d.op!)!
      expect(op.source).toMatchObject({ file, line: d.line, column: d.column })
    }
    expect(diagnostics.map((d) => [d.op, ops.get(d.op!)!.kind])).toEqual([["o2", "groupBy"], ["o3", "reshard"]])
  })

  it("name the op of the plan at hand: a DSL call the args leave out of the plan has no op", async () => {
    const dir = fs.mkdtempSync(path.join("test/zephyr", ".scratch-"))
    try {
      const file = path.join(dir, "either.ts")
      fs.writeFileSync(file, [
        'import { Dataset } from "zephyr"',
        "class Box {",
        "  constructor(readonly n: number) {}",
        "}",
        "export default (args: Record<string, string>) => {",
        "  const boxes = Dataset.fromList([1, 2]).map((n) => new Box(n))",
        "  return args.reshard ? boxes.reshard(2) : boxes.groupBy((b) => b.n, (k) => k)",
        "}"
      ].join("\n") + "\n")
      const opsOf = async (args: Record<string, string>) => (await Zephyr.check(file, { args })).map((d) => [d.code, d.column, d.op ?? null])
      // Both calls hand class instances across a boundary; only the one in the plan has an op.
      expect(await opsOf({ reshard: "yes" })).toEqual([["lossy-boundary-type", 31, "o2"], ["lossy-boundary-type", 50, null]])
      expect(await opsOf({})).toEqual([["lossy-boundary-type", 31, null], ["lossy-boundary-type", 50, "o2"]])
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("throw the module's load error when the checks find nothing to explain it", async () => {
    await expect(Zephyr.check("test/compiler/fixtures/modules/args.ts")).rejects.toMatchObject({ _tag: "ZephyrPlanError", reason: "missing-export" })
    const checked = await Zephyr.check("test/compiler/fixtures/modules/args.ts", { export: "numbers" })
    expect(checked).toEqual([])
  })
})

describe("Zephyr.runModule with check: true", () => {
  it("rejects a module with an error before any task runs, naming each error", async () => {
    const marker = path.join(tempDir(), "tasks.log")
    const err = await Zephyr.runModule("test/cli/fixtures/refused.bad.ts", { workers: 2, check: true, args: { marker } }).catch((e) => e)
    expect(err).toMatchObject({ _tag: "ZephyrPlanError", reason: "failed-checks", file: "test/cli/fixtures/refused.bad.ts", line: 11 })
    expect(err.message).toContain("so the run was refused before any worker registered; fix the errors, or skip the checks with check: false")
    expect(err.message).toContain("test/cli/fixtures/refused.bad.ts:11:14  error  type-error  TS2339")
    expect(fs.existsSync(marker)).toBe(false)
  }, 120_000)
})
