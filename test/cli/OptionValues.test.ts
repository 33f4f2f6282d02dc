import { Schema } from "effect"
import { describe, expect, it } from "vitest"
import * as OptionValues from "../../cli/OptionValues.ts"
import { UsageError } from "../../cli/UsageError.ts"

// Options of a command of the test's own, so that the real commands' rules do not mix in.
OptionValues.integer("probe", "count")
OptionValues.choice("probe", "mode", ["fast", "slow"] as const)
OptionValues.choice("other", "mode", ["any"] as const)
OptionValues.keyValueMap(["probe", "other"], "pair")
OptionValues.text(["probe"], "name")
OptionValues.boolean(["probe", "other"], "quiet")

const refusal = (args: ReadonlyArray<string>): string | undefined => {
  try {
    OptionValues.check(args)
    return undefined
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError)
    return (e as Error).message
  }
}

describe("OptionValues.check", () => {
  it("refuses a bad integer or choice, naming the option, in both spellings", () => {
    expect(refusal(["probe", "--count", "many"])).toBe('Invalid option --count: "many"; expected an integer.')
    expect(refusal(["probe", "x.ts", "--count=1.5"])).toBe('Invalid option --count: "1.5"; expected an integer.')
    expect(refusal(["probe", "--mode", "warp"])).toBe('Invalid option --mode: "warp"; expected one of fast, slow.')
    expect(refusal(["probe", "--count", "3", "--mode=slow", "x.ts"])).toBeUndefined()
  })

  it("applies the rules of the command given, and leaves the rest to @effect/cli", () => {
    expect(refusal(["other", "--mode", "fast"])).toBe('Invalid option --mode: "fast"; expected one of any.')
    expect(refusal(["other", "--count", "many"])).toBeUndefined()
    expect(refusal(["unknown", "--count", "many"])).toBeUndefined()
    // A flag without its value, and a value that only looks like the flag's.
    expect(refusal(["probe", "--count"])).toBeUndefined()
    expect(refusal(["probe", "--export", "--counting"])).toBeUndefined()
  })

  it("takes KEY=VALUE pairs that @effect/cli parses, with a key, in every command given", () => {
    for (const command of ["probe", "other"]) {
      for (const ok of ["k=v", "url=http://x/?a=b&c=d", " k=v ", "a=b=c"]) expect(refusal([command, "--pair", ok]), ok).toBeUndefined()
      // @effect/cli would say "text options do not have a default value", or take an empty key.
      for (const bad of ["input", "k=", "k= ", "=x", "a==b", ""]) expect(refusal([command, "--pair", bad]), bad).toBe(`Invalid option --pair: ${JSON.stringify(bad)}; expected KEY=VALUE (a key, =, then a value).`)
    }
  })

  it("refuses an option given twice that takes one value, naming it and both values; a repeatable one may repeat", () => {
    expect(refusal(["probe", "--count", "2", "x.ts", "--count=3"])).toBe('Option --count is given twice ("2", then "3"); give it once.')
    expect(refusal(["probe", "--name", "a", "--name", "a"])).toBe('Option --name is given twice ("a", then "a"); give it once.')
    expect(refusal(["probe", "--quiet", "--mode", "fast", "--quiet"])).toBe("Option --quiet is given twice; give it once.")
    expect(refusal(["other", "--quiet", "--quiet"])).toBe("Option --quiet is given twice; give it once.")
    expect(refusal(["probe", "--pair", "a=1", "--pair", "a=2", "--count", "1", "--name", "n", "--quiet"])).toBeUndefined()
    // A value is not a flag: a name that looks like the flag is given once.
    expect(refusal(["probe", "--name", "--quiet", "--quiet"])).toBeUndefined()
    // Not a flag of this command: @effect/cli's to report.
    expect(refusal(["other", "--name", "a", "--name", "b"])).toBeUndefined()
  })

  it("takes an integer exactly when @effect/cli's integer option does", () => {
    const cli = Schema.decodeUnknownOption(Schema.compose(Schema.NumberFromString, Schema.Int))
    for (const text of ["7", "-2", "+3", "007", " 7", "1e3", "0x10", "1.0", "1.5", "", " ", "abc", "NaN", "Infinity", "9007199254740991", "9007199254740993"]) {
      expect(refusal(["probe", "--count", text]) === undefined, JSON.stringify(text)).toBe(cli(text)._tag === "Some")
    }
  })
})
