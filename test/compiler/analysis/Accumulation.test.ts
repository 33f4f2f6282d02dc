import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as Analyzer from "../../../compiler/analysis/Analyzer.ts"
import * as MarkedFixture from "./MarkedFixture.ts"

// Each groupBy of the fixture is marked with the fields its combiner only sums
// (`// sums: a, b`), or `// sums: ?` where the analysis must give up: a scatter adds those
// fields in place instead of calling the combiner (CombineSums), so a combiner that does
// anything more, found here, would give another result.
const fixture = path.resolve("test/compiler/analysis/fixtures/sums/combiner-sums.ts")

const marked = (): Array<string> => MarkedFixture.marked(fixture, "sums")

describe("Accumulation: combiners that only sum fields", () => {
  it("finds the sums of a combiner written inline or calling a local reducer, and gives up on anything more", () => {
    const analysis = Analyzer.analyze([fixture], { checks: false, facts: true })
    const found = (analysis.facts ?? [])
      .flatMap((f) => (f.kind === "combiner-sums" && f.call.file === fixture ? [`${f.call.line}: ${f.fields.join(", ")}`] : []))
    expect(found.sort()).toEqual(marked().sort())
    // The fixture has both kinds of groupBy.
    expect(marked().length).toBe(5)
  }, 120_000)
})
