import { Context, Effect, Layer, Logger, LogLevel } from "effect"
import { describe, expect, it } from "vitest"
import { Counters, Dataset, Shared, Zephyr } from "zephyr"

const quiet = Logger.withMinimumLogLevel(LogLevel.Error)

/** Shards given explicitly: shard i holds `shards[i]`. */
const shards = <A>(list: ReadonlyArray<ReadonlyArray<A>>): Dataset<A> => Dataset.fromList(list.map((s) => [...s])).flatMap((xs) => xs)

describe("Counters", () => {
  it("increment sums over all tasks", async () => {
    const ds = shards([[1, 2, 3], [4], [], [5, 6]]).map((n) => {
      Counters.increment("items")
      Counters.increment("total", n)
      if (n % 2 === 0) Counters.increment("even")
      return n
    })
    const { results, counters } = await Zephyr.run(ds, { workers: 2 })
    expect(results).toEqual([1, 2, 3, 4, 5, 6])
    expect(counters).toMatchObject({ items: 6, total: 21, even: 3 })
  })

  it("update aggregates with max, min, avg and sum across tasks", async () => {
    const ds = shards([[5, 1, 9], [3], [7, 2]]).map((n) => {
      Counters.update("max", n, "max")
      Counters.update("min", n, "min")
      Counters.update("avg", n, "avg")
      Counters.update("sum", n, "sum")
      Counters.update("default", n)
      return n
    })
    const { counters } = await Zephyr.run(ds, { workers: 2 })
    // avg: the mean of all observations (27 / 6), not the mean of the per-task means.
    expect(counters).toMatchObject({ max: 9, min: 1, avg: 27 / 6, sum: 27, default: 27 })
  })

  it("set replaces the value within a task; tasks then aggregate (sum by default)", async () => {
    const ds = shards([[1, 2, 3], [10, 20]]).map((n) => {
      Counters.set("last", n)
      return n
    })
    expect((await Zephyr.run(ds, { workers: 2 })).counters.last).toBe(3 + 20)
    const maxOfLast = shards([[1, 2, 3], [10, 20]]).map((n) => {
      Counters.update("lastMax", 0, "max")
      Counters.set("lastMax", n)
      return n
    })
    expect((await Zephyr.run(maxOfLast, { workers: 2 })).counters.lastMax).toBe(20)
  })

  it("set replaces what the task counted so far; later increments add to it", async () => {
    const ds = shards([[1, 2, 3], [4]]).map((n) => {
      Counters.increment("x", 10)
      if (n === 2) Counters.set("x", 0)
      return n
    })
    // Task 0: 10, 20 → set 0, 10; task 1: 10.
    expect((await Zephyr.run(ds, { workers: 2 })).counters.x).toBe(20)
  })

  it("works in every kind of user code: mapShard, reducers, combiners, mapEffect, async Effects", async () => {
    const ds = shards([["a", "b"], ["a"]])
      .mapShard(function* (items) {
        Counters.increment("shards")
        yield* items
      })
      .groupBy((s) => s, (k, items) => {
        Counters.increment("groups")
        return { k, n: [...items].length }
      }, {
        combiner: (_k, items) => {
          Counters.increment("combined")
          return items
        }
      })
      .mapEffect((g) => Effect.gen(function* () {
        yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
        // A plain async function inside the Effect: after its await, no fiber is current.
        yield* Effect.promise(async () => {
          await new Promise((r) => setImmediate(r))
          Counters.increment("afterAwait")
        })
        Counters.increment("effects")
        Counters.update("largest", g.n, "max")
        return g
      }), { concurrency: 2 })
    const { counters } = await Zephyr.run(ds, { workers: 2 })
    expect(counters).toMatchObject({ shards: 2, groups: 2, effects: 2, afterAwait: 2, largest: 2 })
    expect(counters.combined).toBeGreaterThanOrEqual(2)
  })

  it("counts a retried shard once: a failed attempt's counters are dropped", async () => {
    let failed = false
    const ds = Dataset.fromList([1, 2]).map((n) => {
      Counters.increment("seen")
      if (n === 2 && !failed) {
        failed = true
        throw new Error("try again")
      }
      return n
    })
    const { results, counters } = await Zephyr.run(ds, { workers: 1 })
    expect(results).toEqual([1, 2])
    expect(counters.seen).toBe(2)
  })

  it("does nothing outside a running pipeline", () => {
    expect(() => Counters.increment("nowhere")).not.toThrow()
  })
})

describe("Shared", () => {
  it("Shared.get reads values given with the `shared` option, on every worker", async () => {
    const stop = new Set(["the", "a"])
    const ds = Dataset.fromList(["the cat", "a dog", "the end"])
      .flatMap((line) => line.split(" "))
      .filter((w) => !Shared.get<Array<string>>("stopwords").includes(w))
      .map((w) => `${Shared.get<{ prefix: string }>("config").prefix}${w}`)
    const { results } = await Zephyr.run(ds, { workers: 2, shared: { stopwords: [...stop], config: { prefix: "#" } } })
    expect(results).toEqual(["#cat", "#dog", "#end"])
  })

  it("an unknown name is a run-time error naming it", async () => {
    const ds = Dataset.fromList([1]).map(() => Shared.get("missing"))
    const err = await Zephyr.run(ds, { shared: { present: 1 } }).catch((e) => e)
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain("missing")
  })
})

class Greeter extends Context.Tag("test/Greeter")<Greeter, { readonly greet: (name: string) => string }>() {}

describe("services", () => {
  const greetAll = Dataset.fromList(["ann", "bob", "cy"]).mapEffect((name) => Effect.map(Greeter, (g) => g.greet(name)), { concurrency: 2 })

  it("a mapEffect's service comes from the `layer` option", async () => {
    const layer = Layer.succeed(Greeter, { greet: (n) => `hello ${n}` })
    const { results } = await Zephyr.run(greetAll, { workers: 2, layer })
    expect(results).toEqual(["hello ann", "hello bob", "hello cy"])
  })

  it("types: a mapEffect's requirements flow into the dataset, and runs must provide them", () => {
    const typed: Dataset<string, never, Greeter> = greetAll
    // @ts-expect-error: the dataset needs Greeter
    const none: Dataset<string, never, never> = greetAll
    // @ts-expect-error: the dataset needs Greeter, and no layer is given
    const check = () => Zephyr.run(greetAll)
    // execute leaves only the user's services in its requirements...
    const needs: Effect.Effect<unknown, unknown, Greeter> = Zephyr.execute(greetAll)
    // @ts-expect-error: ...so Greeter is still required
    const noNeeds: Effect.Effect<unknown, unknown, never> = Zephyr.execute(greetAll)
    const plain: Effect.Effect<unknown, unknown, never> = Zephyr.execute(Dataset.fromList([1]))
    expect([typed, none, check, needs, noNeeds, plain].every((x) => x !== undefined)).toBe(true)
  })

  it("Zephyr.execute fails with typed errors that can be caught by tag", async () => {
    const program = Zephyr.execute(Dataset.fromList([1]).map(() => { throw new Error("nope") }), { workers: 1 }).pipe(
      Effect.map(() => "succeeded"),
      Effect.catchTag("ZephyrWorkerError", (e) => Effect.succeed(`caught: ${e.message.includes("nope")}`)),
      quiet
    )
    expect(await Effect.runPromise(program)).toBe("caught: true")
  })

  it("Zephyr.execute takes the service from the caller's Effect context", async () => {
    const program = Zephyr.execute(greetAll, { workers: 2 }).pipe(
      Effect.provideService(Greeter, { greet: (n) => `hi ${n}` }),
      quiet
    )
    const { results } = await Effect.runPromise(program)
    expect(results).toEqual(["hi ann", "hi bob", "hi cy"])
  })

  it("Zephyr.execute with a layer leaves no requirement", async () => {
    const layer = Layer.succeed(Greeter, { greet: (n) => `hey ${n}` })
    const program: Effect.Effect<unknown, unknown, never> = Zephyr.execute(greetAll, { workers: 2, layer })
    const { results } = (await Effect.runPromise(program.pipe(quiet))) as { results: Array<string> }
    expect(results).toEqual(["hey ann", "hey bob", "hey cy"])
  })

  it("builds the layer once per worker and reuses it for every task; releases it at the end", async () => {
    let builds = 0
    let releases = 0
    const layer = Layer.scoped(Greeter, Effect.acquireRelease(
      Effect.sync(() => {
        const id = ++builds
        return { greet: (n: string) => `${n}@${id}` }
      }),
      () => Effect.sync(() => { releases++ })
    ))
    const names = Array.from({ length: 24 }, (_, i) => `n${i}`)
    const ds = Dataset.fromList(names).mapEffect((n) => Effect.map(Greeter, (g) => g.greet(n)))
    const { results } = await Zephyr.run(ds, { workers: 2, layer })
    expect(results.map((r) => r.split("@")[0])).toEqual(names)
    // 24 tasks, but at most one build per worker.
    expect(builds).toBeGreaterThanOrEqual(1)
    expect(builds).toBeLessThanOrEqual(2)
    expect(new Set(results.map((r) => r.split("@")[1])).size).toBeLessThanOrEqual(2)
    expect(releases).toBe(builds)
  })

  it("a layer that fails to build fails the run at once with the layer's error (no pipeline retry)", async () => {
    const layer = Layer.fail(new Error("no greeter today")) as Layer.Layer<Greeter>
    const err = await Zephyr.run(greetAll, { workers: 1, layer }).catch((e) => e)
    expect(err).toBeInstanceOf(Error)
    expect(err._tag).toBe("ZephyrWorkerError")
    expect(err.message).toContain("no greeter today")
    expect(err.message).toContain("could not build the services of the `layer`")
  })
})
