import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ZephyrPlanError } from "../../compiler/plan/Errors.ts"
import * as RunOptions from "../../runtime/RunOptions.ts"

const resolve = (options: RunOptions.RunOptions) => RunOptions.resolve(options, "local")
const failure = (f: () => unknown): ZephyrPlanError => {
  try {
    f()
  } catch (e) {
    return e as ZephyrPlanError
  }
  throw new Error("expected a failure")
}

describe("run options: where the coordinator listens, and its token", () => {
  let saved: string | undefined
  beforeEach(() => { saved = process.env.ZEPHYR_TOKEN; delete process.env.ZEPHYR_TOKEN })
  afterEach(() => { if (saved === undefined) delete process.env.ZEPHYR_TOKEN; else process.env.ZEPHYR_TOKEN = saved })

  it("listens on loopback by default", () => {
    expect(RunOptions.defaults.listen).toBe("127.0.0.1:7070")
    expect(resolve({ backend: "external" })).toMatchObject({ listen: "127.0.0.1:7070", token: undefined })
  })

  it("refuses an address off loopback without a token, with a sentence that says what to do", () => {
    for (const listen of ["0.0.0.0:7070", "10.1.2.3:7070", "[::]:7070", "driver-host:7070"]) {
      const e = failure(() => resolve({ backend: "external", listen }))
      expect(e).toBeInstanceOf(ZephyrPlanError)
      expect(e.reason).toBe("invalid-option")
      expect(e.message).toContain(`Invalid option listen: ${JSON.stringify(listen)}`)
      expect(e.message).toContain("ZEPHYR_TOKEN")
    }
  })

  it("takes the token from the option or from $ZEPHYR_TOKEN, and never shows a bad one", () => {
    expect(resolve({ backend: "external", listen: "0.0.0.0:7070", token: "from-option" }).token).toBe("from-option")
    process.env.ZEPHYR_TOKEN = "from-env"
    expect(resolve({ backend: "external", listen: "0.0.0.0:7070" }).token).toBe("from-env")
    expect(resolve({ backend: "external", listen: "0.0.0.0:7070", token: "from-option" }).token).toBe("from-option")
    expect(failure(() => resolve({ backend: "external", token: "" })).message).toBe("Invalid option token: expected a non-empty string (or leave it and $ZEPHYR_TOKEN unset).")
    // Loopback addresses need none.
    delete process.env.ZEPHYR_TOKEN
    for (const listen of ["127.0.0.1:0", "localhost:7070", "[::1]:7070", "127.8.9.10:1"]) expect(resolve({ backend: "external", listen }).token).toBeUndefined()
  })

  it("checks the message size limit", () => {
    expect(resolve({}).maxMessageBytes).toBe(1 << 20)
    expect(resolve({ maxMessageSize: "4MiB" }).maxMessageBytes).toBe(4 << 20)
    expect(failure(() => resolve({ maxMessageSize: "1KiB" })).message).toContain("Invalid option maxMessageSize")
    expect(failure(() => resolve({ maxConnections: 0 })).message).toContain("Invalid option maxConnections")
  })
})
