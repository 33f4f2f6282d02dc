import { Options } from "@effect/cli"
import type { HashMap } from "effect"
import { UsageError } from "./UsageError.ts"

/**
 * Integer, choice and KEY=VALUE options whose bad values are refused naming the option, as every
 * other invalid option is (`Invalid option --workers: "abc"; expected an integer.`). @effect/cli's
 * own refusal names only the value ("'abc' is not a integer", "Expected one of the following
 * cases: text, json") or nothing ("text options do not have a default value" for `--arg x`),
 * whichever option it was. The options stay @effect/cli's, for the help and the shell
 * completions; `check` reads the command line before @effect/cli parses it, with the same
 * rules (an integer as @effect/cli reads one: `Number` of the text, a safe integer).
 */

interface Rule {
  readonly expected: string
  readonly accepts: (value: string) => boolean
}

/** By command, then by flag: filled as the commands define their options. */
const rules = new Map<string, Map<string, Rule>>()

const register = (command: string, name: string, rule: Rule): void => {
  const byFlag = rules.get(command) ?? new Map<string, Rule>()
  byFlag.set(`--${name}`, rule)
  rules.set(command, byFlag)
}

/** As @effect/cli takes a pair (the text trimmed, the value up to any second `=` not empty), and with a key. */
const isKeyValue = (value: string): boolean => {
  const [key, first] = value.trim().split("=")
  return key !== undefined && key !== "" && first !== undefined && first !== ""
}

const isInteger = (value: string): boolean => value.trim() !== "" && Number.isSafeInteger(Number(value))

/** `Options.integer(name)` of `command`. */
export const integer = (command: string, name: string): Options.Options<number> => {
  register(command, name, { expected: "an integer", accepts: isInteger })
  return Options.integer(name)
}

/** `Options.choice(name, cases)` of `command`. */
export const choice = <const C extends string>(command: string, name: string, cases: ReadonlyArray<C>): Options.Options<C> => {
  register(command, name, { expected: `one of ${cases.join(", ")}`, accepts: (value) => (cases as ReadonlyArray<string>).includes(value) })
  return Options.choice(name, cases)
}

/** `Options.keyValueMap(name)` of each of `commands`: `--name KEY=VALUE`, repeatable. */
export const keyValueMap = (commands: ReadonlyArray<string>, name: string): Options.Options<HashMap.HashMap<string, string>> => {
  for (const command of commands) register(command, name, { expected: "KEY=VALUE (a key, =, then a value)", accepts: isKeyValue })
  return Options.keyValueMap(name)
}

/**
 * Throws a UsageError for the first value of an integer, choice or KEY=VALUE option that its
 * rule refuses, in `args` (the command first, then its options: `--name value` or `--name=value`).
 */
export const check = (args: ReadonlyArray<string>): void => {
  const byFlag = rules.get(args[0] ?? "")
  if (byFlag === undefined) return
  for (let i = 1; i < args.length; i++) {
    const a = args[i]!
    const eq = a.startsWith("--") ? a.indexOf("=") : -1
    const flag = eq < 0 ? a : a.slice(0, eq)
    const rule = byFlag.get(flag)
    if (rule === undefined) continue
    // A flag without its value is @effect/cli's to report.
    const value = eq < 0 ? args[++i] : a.slice(eq + 1)
    if (value !== undefined && !rule.accepts(value)) throw new UsageError(`Invalid option ${flag}: ${JSON.stringify(value)}; expected ${rule.expected}.`)
  }
}
