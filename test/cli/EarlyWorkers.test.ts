import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as EarlyWorkers from "../../cli/EarlyWorkers.ts"

const wordcount = path.resolve("examples/wordcount.ts")

describe("the head start `zephyr run` gives its worker processes", () => {
  it.each([
    [["examples/wordcount.ts"], { workers: 2, module: wordcount }],
    [["examples/wordcount.ts", "--workers", "3"], { workers: 3, module: wordcount }],
    [["--workers=5", "--arg", "input=x.ts", "examples/wordcount.ts"], { workers: 5, module: wordcount }],
    [["--arg=out=y.ts", "examples/wordcount.ts", "--backend", "local"], { workers: 2, module: wordcount }],
    [["examples/wordcount.ts", "--backend", "in-process"], undefined],
    [["examples/wordcount.ts", "--backend=external"], undefined],
    [["examples/wordcount.ts", "--memory-budget", "1GB"], undefined],
    [["examples/wordcount.ts", "--dry-run"], undefined],
    [["examples/wordcount.ts", "--workers", "zero"], undefined],
    [["examples/missing.ts"], undefined],
    [["--help"], undefined]
  ] as const)("%j", (args, expected) => {
    expect(EarlyWorkers.headStart(args, 2)).toEqual(expected)
  })
})
