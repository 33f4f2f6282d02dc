import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { Dataset, Pipeline, Zephyr } from "zephyr"
import * as Prometheus from "../runtime/dashboard/Prometheus.ts"
import * as View from "../runtime/dashboard/View.ts"

const exec = promisify(execFile)

// The README shows a newcomer the pipeline and its plan: both must stay true.
const readme = fs.readFileSync("README.md", "utf8")
const block = (lang: string, after: string) => {
  const start = readme.indexOf("```" + lang, readme.indexOf(after))
  return readme.slice(readme.indexOf("\n", start) + 1, readme.indexOf("```", start + 3))
}

describe("README", () => {
  it("shows examples/wordcount.ts as it is", () => {
    const shown = block("ts", "## A pipeline").replace(/^\/\/ examples\/wordcount\.ts\n/, "")
    const source = fs.readFileSync("examples/wordcount.ts", "utf8")
    expect(source.slice(source.indexOf("import { Dataset }"))).toBe(shown)
  })

  it("shows the plan `zephyr compile examples/wordcount.ts --explain` prints", async () => {
    // The command itself: its explain applies what the static checks found (the sums in place).
    const { stdout } = await exec(process.execPath, ["bin/zephyr.js", "compile", "examples/wordcount.ts", "--explain"], { encoding: "utf8" })
    expect(block("text", "## The plan")).toBe(stdout)
    // Without the checks' findings, the same plan.
    const loaded = await Pipeline.load("examples/wordcount.ts")
    const spaced = (text: string) => text.replace(/ +/g, " ")
    expect(spaced(stdout.replace(" (sums count in place)", ""))).toBe(spaced(Zephyr.compile(loaded.dataset).explain("text")))
  }, 60_000)

  it("names the test command that CI runs", () => {
    expect(readme).toContain("npm test")
    expect(fs.readFileSync(".ci/run", "utf8")).toContain("npm test")
  })

  it("names every metric family /metrics serves, and no other", () => {
    const plan = Zephyr.compile(Dataset.fromList([1])).plan
    const view = View.fromStatus(undefined, { graph: View.graphOf(plan, process.cwd()), previous: undefined, elapsedMs: 0, attempt: 0, cwd: process.cwd() })
    const served = [...Prometheus.render(view, { fingerprint: plan.fingerprint, streams: 0 }).matchAll(/^# TYPE (\w+) /gm)].map((m) => m[1]).sort()
    const section = readme.slice(readme.indexOf("### Dashboard and metrics"), readme.indexOf("### On more machines"))
    expect([...new Set([...section.matchAll(/`(zephyr_\w+)/g)].map((m) => m[1]))].sort()).toEqual(served)
  })
})
