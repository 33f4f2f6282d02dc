/**
 * Checks: `zephyr compile <example>` (which runs the static checks first) right after a
 * one-line edit, as a user sees it while writing a pipeline: the checks' cache misses, the
 * compiler's code caches do not. Each example is copied, with a comment that changes every
 * run, into a folder of out/ (the same tsconfig.json and packages as examples/) that the
 * bench removes. Every example must compile with no problems.
 * Target (issue 10): each ≤ 1.5 s.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as Processes from "../Processes.ts"
import * as Workload from "../Workload.ts"

export const name = "checks"

const examples = ["count", "join", "reshard", "tokenize", "wordcount"]
const label = (example: string) => `zephyr compile ${example}.ts, edited`

export const make: Workload.Make = async (context) => {
  // In the repository, so that "zephyr", "effect" and the tsconfig.json resolve as for the examples.
  fs.mkdirSync(path.join(context.repo, "out"), { recursive: true })
  const dir = fs.mkdtempSync(path.join(context.repo, "out", "bench-checks-"))
  process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }))
  let edits = 0
  const contender = (example: string): Workload.Contender => ({
    name: label(example),
    zephyr: true,
    run: async () => {
      const file = path.join(dir, `${example}.ts`)
      fs.writeFileSync(file, `${fs.readFileSync(path.join(context.repo, "examples", `${example}.ts`), "utf8")}\n// edit ${++edits} of ${process.pid}\n`)
      const finished = await Processes.node(["bin/zephyr.js", "compile", file], { cwd: context.repo })
      // "<file>: 2 stage(s), fingerprint …, no problems (add --explain …)": the verdict is the answer.
      const verdict = /, ([^,(]*) \(add --explain/.exec(finished.stdout)?.[1] ?? finished.stdout.trim()
      return { seconds: finished.seconds, answer: verdict }
    }
  })
  return {
    name,
    title: "checks: zephyr compile after a one-line edit",
    contenders: examples.map(contender),
    targets: (results) => examples.map((e) => ({ name: `${e}.ts checked and compiled after an edit`, value: Workload.seconds(results, label(e)), unit: "s", limit: 1.5, atMost: true }))
  }
}
