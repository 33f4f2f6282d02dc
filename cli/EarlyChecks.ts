import * as fs from "node:fs"
import * as path from "node:path"
import * as Analysis from "../compiler/analysis/Analysis.ts"

/**
 * `zephyr run`, `compile` and `check` start the module's static checks from the command
 * line, before the engine is loaded: on a cold cache the analyzer's thread then loads the
 * compiler while this thread loads the engine and the module. Only a head start: the
 * command starts the checks itself when this guessed wrong (or skips them, `--no-check`).
 * The same analysis finds the code facts (the columns a run reads, explain's advice).
 */
const commands = new Set(["run", "compile", "check"])
const scriptFile = /\.(?:[cm]?ts|tsx)$/

/** The module `zephyr ARGS` will check, if it will. */
export const moduleToCheck = (args: ReadonlyArray<string>): string | undefined => {
  if (!commands.has(args[0] ?? "") || args.includes("--no-check") || args.includes("--help") || args.includes("-h")) return undefined
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!
    if (a === "--arg" || a === "--export" || a === "--format") i++
    else if (!a.startsWith("-") && scriptFile.test(a) && fs.existsSync(a)) return path.resolve(a)
  }
  return undefined
}

export const startFromCommandLine = (args: ReadonlyArray<string>): void => {
  const module = moduleToCheck(args)
  if (module !== undefined) Analysis.ahead([module], Analysis.checksAndFacts)
}
