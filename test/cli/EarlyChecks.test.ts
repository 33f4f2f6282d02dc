import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { moduleToCheck } from "../../cli/EarlyChecks.ts"

const wordcount = path.resolve("examples/wordcount.ts")

describe("the checks started from the command line", () => {
  it("start for run, compile and check, on the module the command names", () => {
    expect(moduleToCheck(["run", "examples/wordcount.ts", "--workers", "2"])).toBe(wordcount)
    expect(moduleToCheck(["compile", "--explain", "examples/wordcount.ts"])).toBe(wordcount)
    expect(moduleToCheck(["check", "examples/wordcount.ts", "--format", "json"])).toBe(wordcount)
    // a value that looks like a module but belongs to an option is skipped
    expect(moduleToCheck(["run", "--arg", "examples/join.ts", "examples/wordcount.ts"])).toBe(wordcount)
  })

  it("do not start when the command will not check: --no-check, help, other commands, no module", () => {
    expect(moduleToCheck(["run", "examples/wordcount.ts", "--no-check"])).toBeUndefined()
    expect(moduleToCheck(["compile", "examples/wordcount.ts", "--help"])).toBeUndefined()
    expect(moduleToCheck(["worker", "--coordinator", "127.0.0.1:7070"])).toBeUndefined()
    expect(moduleToCheck(["run", "examples/missing.ts"])).toBeUndefined()
    expect(moduleToCheck([])).toBeUndefined()
  })
})
