/**
 * Scheduling throughput: `n` one-item shards (bench/fixtures/tiny-tasks.ts) on `workers`
 * local worker processes through the public API, net of start-up, next to a raw loop of
 * round trips over the same transport (@effect/rpc, TCP + msgpack, a tiny echo group
 * served by another process).
 *
 * Net of start-up: the coordinator's `zephyr/stage_tasks_ms` counter, the time from the
 * stage's first task handed out to its last report; tasks/s = n / that (median of `runs`).
 * Whole runs (start-up included) are reported next to it.
 *
 *   npx tsx bench/tasks.ts [--tasks 10000] [--workers 2] [--runs 3] [--round-trips 20000]
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import * as readline from "node:readline"
import { fileURLToPath, pathToFileURL } from "node:url"
import { SocketServer } from "@effect/platform"
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { Context, Effect, Layer, Schema } from "effect"
import * as Zephyr from "../Zephyr.ts"

const here = fileURLToPath(import.meta.url)
const fixture = path.join(path.dirname(here), "fixtures", "tiny-tasks.ts")

class EchoRpcs extends RpcGroup.make(Rpc.make("Echo", { payload: { n: Schema.Number }, success: Schema.Number })) {}

/** Serves EchoRpcs the way the coordinator serves its group; prints the port. */
const serveEcho = Effect.gen(function* () {
  const handlers = EchoRpcs.toLayer({ Echo: ({ n }) => Effect.succeed(n) })
  const server = RpcServer.layer(EchoRpcs, { disableFatalDefects: true, concurrency: "unbounded", disableTracing: true }).pipe(
    Layer.provide(handlers),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provide(RpcSerialization.layerMsgPack),
    Layer.provideMerge(NodeSocketServer.layer({ host: "127.0.0.1", port: 0 }))
  )
  const address = Context.get(yield* Layer.build(server), SocketServer.SocketServer).address
  if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("echo server socket is not TCP")
  process.stdout.write(`${address.port}\n`)
  yield* Effect.never
})

/** Sequential round trips from this process to an echo server in another one. */
export const rawRoundTrips = async (count: number): Promise<number> => {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", here, "--echo-server"], { stdio: ["ignore", "pipe", "inherit"] })
  try {
    const port = await new Promise<number>((resolve, reject) => {
      readline.createInterface({ input: child.stdout! }).once("line", (line) => resolve(Number(line)))
      child.once("exit", (code) => reject(new Error(`echo server exited with code ${code}`)))
    })
    return await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
      const protocol = yield* Layer.build(RpcClient.layerProtocolSocket().pipe(Layer.provide([NodeSocket.layerNet({ host: "127.0.0.1", port }), RpcSerialization.layerMsgPack])))
      const client = yield* RpcClient.make(EchoRpcs, { disableTracing: true }).pipe(Effect.provide(protocol))
      for (let i = 0; i < Math.min(1000, count); i++) yield* client.Echo({ n: i }) // warm-up
      const t0 = performance.now()
      for (let i = 0; i < count; i++) yield* client.Echo({ n: i })
      return count / ((performance.now() - t0) / 1000)
    })))
  } finally {
    child.kill("SIGTERM")
  }
}

const runOnce = async (n: number, workers: number): Promise<{ readonly seconds: number; readonly tasksSeconds: number }> => {
  const t0 = performance.now()
  const result = await Zephyr.runModule<number>(fixture, { workers, args: { n: String(n) }, progress: false })
  const seconds = (performance.now() - t0) / 1000
  if (result.results.length !== n || result.results[n - 1] !== n) throw new Error(`expected ${n} results ending in ${n}, got ${result.results.length}`)
  const ms = result.counters["zephyr/stage_tasks_ms"]
  if (ms === undefined) throw new Error("the run reported no zephyr/stage_tasks_ms counter")
  return { seconds, tasksSeconds: ms / 1000 }
}

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export interface TasksResult {
  readonly tasks: number
  readonly workers: number
  readonly runs: number
  /** Median whole run (start-up included), seconds. */
  readonly runSeconds: number
  /** Median time from the first task handed out to the last report, seconds. */
  readonly tasksSeconds: number
  readonly tasksPerSecond: number
  readonly rawRoundTripsPerSecond: number
  /** tasksPerSecond / rawRoundTripsPerSecond. */
  readonly ratio: number
}

export const measure = async (options: { readonly tasks?: number | undefined; readonly workers?: number | undefined; readonly runs?: number | undefined; readonly roundTrips?: number | undefined } = {}): Promise<TasksResult> => {
  const tasks = options.tasks ?? 10_000
  const workers = options.workers ?? 2
  const runs = options.runs ?? 3
  const whole: Array<number> = []
  const net: Array<number> = []
  const raw: Array<number> = []
  // Alternating with the raw loop, so both see the same machine.
  for (let i = 0; i < runs; i++) {
    const run = await runOnce(tasks, workers)
    whole.push(run.seconds)
    net.push(run.tasksSeconds)
    raw.push(await rawRoundTrips(options.roundTrips ?? 20_000))
  }
  const tasksSeconds = median(net)
  const tasksPerSecond = tasks / Math.max(1e-3, tasksSeconds)
  const rawRoundTripsPerSecond = median(raw)
  return { tasks, workers, runs, runSeconds: median(whole), tasksSeconds, tasksPerSecond, rawRoundTripsPerSecond, ratio: tasksPerSecond / rawRoundTripsPerSecond }
}

const isMain = process.argv[1] !== undefined && pathToFileURL(path.resolve(process.argv[1])).href === import.meta.url
if (isMain) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`)
    return i >= 0 ? Number(process.argv[i + 1]) : undefined
  }
  if (process.argv.includes("--echo-server")) {
    Effect.runFork(Effect.scoped(serveEcho))
  } else {
    const result = await measure({ tasks: arg("tasks"), workers: arg("workers"), runs: arg("runs"), roundTrips: arg("round-trips") })
    const round = (x: number, d = 0) => Number(x.toFixed(d))
    console.log(JSON.stringify({
      bench: "tasks", ...result,
      runSeconds: round(result.runSeconds, 2), tasksSeconds: round(result.tasksSeconds, 2),
      tasksPerSecond: round(result.tasksPerSecond), rawRoundTripsPerSecond: round(result.rawRoundTripsPerSecond), ratio: round(result.ratio, 2)
    }))
  }
}
