import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { compile } from "../../../compiler/Compiler.ts"
import { Dataset } from "../../../dsl/Dataset.ts"
import * as StageInputs from "../../../runtime/coordinator/StageInputs.ts"
import { ticksDuring } from "../../EventLoopTicks.ts"
import { useTempDirs } from "../../TempDirs.ts"

const tmp = useTempDirs("zephyr-stage-inputs-")

describe("StageInputs", () => {
  it("lists a file source without blocking the coordinator's event loop, one shard per file in path order", async () => {
    const root = tmp()
    for (let d = 0; d < 40; d++) {
      for (let f = 0; f < 10; f++) {
        fs.mkdirSync(path.join(root, `d${d}`), { recursive: true })
        fs.writeFileSync(path.join(root, `d${d}`, `f${f}.jsonl`), "{}\n")
      }
    }
    // Compiled without listing files, as a plan reaches the coordinator.
    const exe = compile(Dataset.fromFiles(`${root}/**/*.jsonl`))
    const { result, ticks } = await ticksDuring(() => StageInputs.of(exe, exe.plan.stages[0]!, new Map()))
    expect(result).toHaveLength(400)
    const paths = result.map((s) => (s.input.kind === "file" ? s.input.path : ""))
    expect(paths).toEqual([...paths].sort())
    expect(ticks).toBeGreaterThan(0)
  })

  it("rejects an invalid pattern with a ZephyrWorkerError naming the DSL call and its line", async () => {
    const root = tmp()
    const exe = compile(Dataset.fromFiles(`${root}/[z-a]/*.jsonl`))
    const stage = exe.plan.stages[0]!
    const source = stage.input.kind === "source" ? stage.input.source : undefined
    const error = await StageInputs.of(exe, stage, new Map()).then(() => undefined, (e) => e)
    expect(error).toMatchObject({ _tag: "ZephyrWorkerError", reason: "invalid-input", stage: 0, file: source?.source.file, line: source?.source.line })
    expect(error.message).toContain(`fromFiles(${JSON.stringify(`${root}/[z-a]/*.jsonl`)})`)
    expect(error.message).toContain(`StageInputs.test.ts:${source?.source.line}`)
    expect(error.message).toContain("Range out of order")
  })
})
