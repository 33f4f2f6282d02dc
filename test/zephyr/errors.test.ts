import * as path from "node:path"
import { Effect, Logger, LogLevel } from "effect"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr, ZephyrWorkerError } from "zephyr"
import { jsonl, rejection, useTempDirs, writeFile } from "./helpers.ts"

const tmp = useTempDirs()

const run = <A, E>(ds: Dataset<A, E>, options: Parameters<typeof Zephyr.run>[1] = {}) => Zephyr.run(ds, { workers: 2, ...options })

const boom = (n: number) => {
  if (n === 13) throw new Error(`unlucky number ${n}`)
  return n
}

/** The run's rejection, checked to be a ZephyrWorkerError naming the message, stage and shard. */
const workerError = async (p: Promise<unknown>, message: string | RegExp, stage: number, shard: number) => {
  const err = await rejection(p)
  expect(err._tag).toBe("ZephyrWorkerError")
  expect(err).toBeInstanceOf(ZephyrWorkerError)
  if (typeof message === "string") expect(err.message).toContain(message)
  else expect(err.message).toMatch(message)
  expect(err.message).toMatch(new RegExp(`stage ${stage}\\b`, "i"))
  expect(err.message).toMatch(new RegExp(`shard ${shard}\\b`, "i"))
  expect(err.stage).toBe(stage)
  expect(err.shard).toBe(shard)
  return err
}

describe("user errors", () => {
  it("a throwing map rejects with ZephyrWorkerError naming the message, the stage and the shard", async () => {
    const ds = Dataset.fromList([1, 2, 13, 4]).map(boom)
    const err = await workerError(run(ds), "unlucky number 13", 0, 2)
    // It also names the op and where the user wrote it.
    expect(err.message).toContain("map")
    expect(err.message).toContain("errors.test.ts")
  })

  it("names the stage of a failing reducer after a shuffle", async () => {
    const ds = Dataset.fromList([1, 2, 3]).groupBy((n) => n, (k) => {
      if (k === 2) throw new TypeError("reducer broke on 2")
      return k
    }, { numOutputShards: 1 })
    await workerError(run(ds), "reducer broke on 2", 1, 0)
  })

  it("covers filter, flatMap, mapShard, key functions, windowBy and join combiners", async () => {
    const fail = (what: string) => (): never => { throw new Error(`${what} failed`) }
    await workerError(run(Dataset.fromList([1]).filter(fail("filter"))), "filter failed", 0, 0)
    await workerError(run(Dataset.fromList([1, 2]).flatMap((n) => (n === 2 ? fail("flatMap")() : [n]))), "flatMap failed", 0, 1)
    await workerError(run(Dataset.fromList([1, 2]).mapShard((items, { shardIdx }) => (shardIdx === 1 ? fail("mapShard")() : items))), "mapShard failed", 0, 1)
    await workerError(run(Dataset.fromList([1]).groupBy(fail("key"), (k) => k)), "key failed", 0, 0)
    await workerError(run(Dataset.fromList([1]).deduplicate(fail("dedup key"))), "dedup key failed", 0, 0)
    await workerError(run(Dataset.fromList([1]).windowBy(fail("windowBy"), 0)), "windowBy failed", 0, 0)
    await workerError(run(Dataset.fromList([1]).reduce(fail("reduce"))), "reduce failed", 0, 0)
    // fold (stage 0) → reshard (stage 1) → global fold (stage 2)
    await workerError(run(Dataset.fromList([1, 2]).reduce((xs) => [...xs].length, fail("global reduce"))), "global reduce failed", 2, 0)
    const right = Dataset.fromList([1])
    await workerError(run(Dataset.fromList([1]).sortedMergeJoin(right, { leftKey: (x) => x, rightKey: (x) => x, combiner: fail("combiner") })), "combiner failed", 1, 0)
  })

  it("a failing or dying mapEffect is a user error too", async () => {
    await workerError(run(Dataset.fromList([1, 2]).mapEffect((n) => (n === 2 ? Effect.fail(new Error("typed failure")) : Effect.succeed(n)))), "typed failure", 0, 1)
    await workerError(run(Dataset.fromList([1, 2]).mapEffect((n) => Effect.sync(() => boom(n + 11)))), "unlucky number 13", 0, 1)
    await workerError(run(Dataset.fromList([1]).mapEffect(() => Effect.promise(async () => { throw new Error("async defect") }))), "async defect", 0, 0)
  })

  it("keeps a non-Error throw's text", async () => {
    await workerError(run(Dataset.fromList(["x"]).map(() => { throw "a plain string" })), "a plain string", 0, 0)
  })

  it("Zephyr.execute fails with the typed error", async () => {
    const err = await Effect.runPromise(Effect.flip(Zephyr.execute(Dataset.fromList([13]).map(boom), { workers: 1 })).pipe(Logger.withMinimumLogLevel(LogLevel.Error)))
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain("unlucky number 13")
  })

  it("a bad row is a run-time error naming the file and line", async () => {
    const dir = tmp()
    const file = writeFile(path.join(dir, "bad.jsonl"), jsonl([{ a: 1 }]) + "{not json\n")
    const err = await rejection(run(Dataset.readJsonl(`${dir}/*.jsonl`)))
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain(`${file}:2`)
  })

  it("retries a failed shard: a function that fails once succeeds on the next attempt", async () => {
    const failedOnce = new Set<number>()
    const flaky = (n: number) => {
      if (n % 2 === 0 && !failedOnce.has(n)) {
        failedOnce.add(n)
        throw new Error(`transient failure on ${n}`)
      }
      return n * 10
    }
    const { results } = await run(Dataset.fromList([1, 2, 3, 4]).map(flaky))
    expect(results).toEqual([10, 20, 30, 40])
    expect([...failedOnce].sort()).toEqual([2, 4])
  })

  it("gives up after maxShardFailures attempts", async () => {
    let attempts = 0
    const ds = Dataset.fromList([1]).map(() => {
      attempts++
      throw new Error("always fails")
    })
    await workerError(run(ds, { maxShardFailures: 2 }), "always fails", 0, 0)
    expect(attempts).toBe(2)
  })
})

describe("build time vs run time", () => {
  it("building never calls user code or looks at the data", () => {
    const explode = (): never => { throw new Error("called at build time") }
    expect(() => Dataset.fromList([1]).map(explode).filter(explode).flatMap(explode).groupBy(explode, explode).reduce(explode)).not.toThrow()
    expect(() => Dataset.readJsonl("/definitely/not/here/*.jsonl").map((r) => r.x)).not.toThrow()
    expect(() => Dataset.fromFiles("/nothing/*.xyz").loadFile().writeJsonl("/tmp/no-shard-placeholder.jsonl")).not.toThrow()
    const a = Dataset.fromList([1, 2]).groupBy((n) => n, (n) => n, { numOutputShards: 2 })
    const b = Dataset.fromList([1]).groupBy((n) => n, (n) => n, { numOutputShards: 3 })
    expect(() => a.sortedMergeJoin(b, { leftKey: (x) => x, rightKey: (x) => x })).not.toThrow()
    // Compiling does not run anything either.
    expect(() => Zephyr.compile(Dataset.fromList([1]).map(explode))).not.toThrow()
  })

  it("argument validation throws at build time with ZephyrBuildError", () => {
    const ds = Dataset.fromList([1])
    const cases: Array<[() => unknown, RegExp]> = [
      [() => ds.reshard(0), /must be positive/],
      [() => ds.takePerShard(-1), /takePerShard/],
      [() => ds.window(0), /must be positive/],
      [() => ds.groupBy((n) => n, (n) => n, { numOutputShards: 0 }), /must be positive/],
      [() => ds.deduplicate((n) => n, { numOutputShards: -1 }), /must be positive/],
      [() => ds.mapEffect((n) => Effect.succeed(n), { concurrency: 0 }), /must be positive/],
      [() => ds.map(undefined as any), /must be a function/]
    ]
    for (const [build, message] of cases) {
      let thrown: any
      try { build() } catch (e) { thrown = e }
      expect(thrown?._tag).toBe("ZephyrBuildError")
      expect(thrown.message).toMatch(message)
    }
  })
})

describe("error reasons", () => {
  it("every failure carries a reason literal, so callers branch without matching message text", async () => {
    expect((await rejection(run(Dataset.fromList([1, 2, 13]).map(boom)))).reason).toBe("user-code")
    expect((await rejection(run(Dataset.fromFiles(path.join(tmp(), "none-*.jsonl"))))).reason).toBe("missing-input")
    expect((await rejection(run(Dataset.fromList([1]), { heartbeatInterval: "soon" }))).reason).toBe("invalid-option")
    expect((await rejection(run(Dataset.fromList([1]), { backend: "nowhere" }))).reason).toBe("unknown-backend")
    const dir = tmp()
    writeFile(path.join(dir, "bad.jsonl"), "{\"a\":1}\nnot json\n")
    expect((await rejection(run(Dataset.readJsonl(path.join(dir, "*.jsonl"))))).reason).toBe("bad-data")
    const build = (() => { try { Dataset.fromList([1]).map(42 as never) } catch (e) { return e as { reason?: string } } })()
    expect(build?.reason).toBe("invalid-argument")
  })
})
