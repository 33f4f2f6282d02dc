import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Analyzer from "../../../compiler/analysis/Analyzer.ts"
import * as MarkedFixture from "./MarkedFixture.ts"

// Each map, filter and flatMap of the fixture is marked with the fields its function reads
// (`// reads: a, b`), or `// reads: ?` where the analysis must give up: a run's reader
// drops every other field (ReadColumns), so a field missed here would be data lost.
const fixture = path.resolve("test/compiler/analysis/fixtures/reads/item-reads.ts")

const marked = (): Array<string> => MarkedFixture.marked(fixture, "reads")

describe("FieldFlow: the fields of its item a function reads", () => {
  it("follows the item through destructuring and into local functions, and gives up on every other use", () => {
    const analysis = Analyzer.analyze([fixture], { checks: false, facts: true })
    const found = (analysis.facts ?? [])
      .flatMap((f) => (f.kind === "item-reads" && f.call.file === fixture ? [`${f.call.line}: ${f.fields.join(", ")}`] : []))
    expect(found.sort()).toEqual(marked().sort())
  }, 120_000)
})
