import { spawnSync } from "node:child_process"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as AnyArray from "../../runtime/AnyArray.ts"

const root = path.resolve(import.meta.dirname, "../..")

describe("AnyArray", () => {
  it("an empty array that V8 already keeps as an array of anything (a `[]` is one of small integers)", () => {
    // V8's own view of the elements' kind, in a process that may ask for it.
    const script = `import * as AnyArray from ${JSON.stringify(path.join(root, "runtime/AnyArray.ts"))}
      console.log(JSON.stringify({ empty: %HasObjectElements(AnyArray.empty()), literal: %HasObjectElements([]), literalSmi: %HasSmiElements([]) }))`
    const run = spawnSync(process.execPath, ["--allow-natives-syntax", "--import", "tsx", "--input-type=module", "-e", script], { cwd: root, encoding: "utf8" })
    expect(run.stderr).toBe("")
    expect(JSON.parse(run.stdout)).toEqual({ empty: true, literal: false, literalSmi: true })
  })

  it("is empty, takes anything, and each call is a new array", () => {
    const a = AnyArray.empty<unknown>()
    const b = AnyArray.empty<unknown>()
    expect(a).toEqual([])
    expect(a).not.toBe(b)
    a.push(1, "x", { y: 2 })
    expect(a).toEqual([1, "x", { y: 2 }])
    expect(b).toEqual([])
  })
})
