import { Options } from "@effect/cli"
import type { HashMap } from "effect"
import { UsageError } from "./UsageError.ts"

/**
 * Zephyr's command-line options, registered per command as the commands define them, so that
 * mistakes are refused naming the option, as every other invalid option is:
 * - a bad integer, choice or KEY=VALUE (`Invalid option --workers: "abc"; expected an
 *   integer.`). @effect/cli's own refusal names only the value ("'abc' is not a integer",
 *   "Expected one of the following cases: text, json") or nothing ("text options do not have
 *   a default value" for `--arg x`), whichever option it was;
 * - an option given twice that takes one value (`--workers 2 --workers 3`), which @effect/cli
 *   calls "Received unknown argument: '--workers'".
 * The options stay @effect/cli's, for the help and the shell completions; `check` reads the
 * command line before @effect/cli parses it, with the same rules (an integer as @effect/cli
 * reads one: `Number` of the text, a safe integer).
 */

interface Rule {
  /** Whether a value follows the flag (`--name value` or `--name=value`); a boolean has none. */
  readonly takesValue: boolean
  readonly repeatable: boolean
  readonly expected?: string
  readonly accepts?: (value: string) => boolean
}

/** By command, then by flag: filled as the commands define their options. */
const rules = new Map<string, Map<string, Rule>>()

const register = (commands: ReadonlyArray<string>, name: string, rule: Rule): void => {
  for (const command of commands) {
    const byFlag = rules.get(command) ?? new Map<string, Rule>()
    byFlag.set(`--${name}`, rule)
    rules.set(command, byFlag)
  }
}

/** As @effect/cli takes a pair (the text trimmed, the value up to any second `=` not empty), and with a key. */
const isKeyValue = (value: string): boolean => {
  const [key, first] = value.trim().split("=")
  return key !== undefined && key !== "" && first !== undefined && first !== ""
}

const isInteger = (value: string): boolean => value.trim() !== "" && Number.isSafeInteger(Number(value))

/** `Options.integer(name)` of `command`. */
export const integer = (command: string, name: string): Options.Options<number> => {
  register([command], name, { takesValue: true, repeatable: false, expected: "an integer", accepts: isInteger })
  return Options.integer(name)
}

/** `Options.choice(name, cases)` of `command`. */
export const choice = <const C extends string>(command: string, name: string, cases: ReadonlyArray<C>): Options.Options<C> => {
  register([command], name, { takesValue: true, repeatable: false, expected: `one of ${cases.join(", ")}`, accepts: (value) => (cases as ReadonlyArray<string>).includes(value) })
  return Options.choice(name, cases)
}

/** `Options.keyValueMap(name)` of each of `commands`: `--name KEY=VALUE`, repeatable. */
export const keyValueMap = (commands: ReadonlyArray<string>, name: string): Options.Options<HashMap.HashMap<string, string>> => {
  register(commands, name, { takesValue: true, repeatable: true, expected: "KEY=VALUE (a key, =, then a value)", accepts: isKeyValue })
  return Options.keyValueMap(name)
}

/** `Options.text(name)` of each of `commands`: one value. */
export const text = (commands: ReadonlyArray<string>, name: string): Options.Options<string> => {
  register(commands, name, { takesValue: true, repeatable: false })
  return Options.text(name)
}

/** `Options.boolean(name, config)` of each of `commands`: a flag without a value. */
export const boolean = (commands: ReadonlyArray<string>, name: string, config?: Options.Options.BooleanOptionsConfig): Options.Options<boolean> => {
  register(commands, name, { takesValue: false, repeatable: false })
  return Options.boolean(name, config)
}

/**
 * Throws a UsageError for the first value of an integer, choice or KEY=VALUE option that its
 * rule refuses, or the first option given twice that takes one value, in `args` (the command
 * first, then its options: `--name value` or `--name=value`).
 */
export const check = (args: ReadonlyArray<string>): void => {
  const byFlag = rules.get(args[0] ?? "")
  if (byFlag === undefined) return
  const given = new Map<string, string | undefined>()
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!
    const eq = a.startsWith("--") ? a.indexOf("=") : -1
    const flag = eq < 0 ? a : a.slice(0, eq)
    const rule = byFlag.get(flag)
    if (rule === undefined) continue
    // A flag without its value is @effect/cli's to report.
    const value = !rule.takesValue ? undefined : eq < 0 ? args[++i] : a.slice(eq + 1)
    if (value !== undefined && rule.accepts !== undefined && !rule.accepts(value)) throw new UsageError(`Invalid option ${flag}: ${JSON.stringify(value)}; expected ${rule.expected}.`)
    if (!rule.repeatable && given.has(flag)) {
      const first = given.get(flag)
      const values = rule.takesValue && first !== undefined && value !== undefined ? ` (${JSON.stringify(first)}, then ${JSON.stringify(value)})` : ""
      throw new UsageError(`Option ${flag} is given twice${values}; give it once.`)
    }
    given.set(flag, value)
  }
}
