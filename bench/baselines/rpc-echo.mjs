// The raw round-trip rate of Zephyr's transport: @effect/rpc over TCP with msgpack, an
// echo server in a child process and one client calling it in a sequential loop, with
// payloads the size of a worker's pull. No scheduling, no tasks: the floor under them.
//   node bench/baselines/rpc-echo.mjs [--calls N]
// Prints {"roundTrips":N,"seconds":S,"perSecond":R}.
import { spawn } from "node:child_process"
import { NodeSocket, NodeSocketServer } from "@effect/platform-node"
import { SocketServer } from "@effect/platform"
import { Rpc, RpcClient, RpcGroup, RpcSerialization, RpcServer } from "@effect/rpc"
import { Context, Effect, Layer, Schema } from "effect"

class EchoRpcs extends RpcGroup.make(
  Rpc.make("Echo", { payload: { workerId: Schema.String, n: Schema.Number }, success: Schema.Struct({ workerId: Schema.String, n: Schema.Number }) })
) {}

const argv = process.argv.slice(2)
const calls = argv.includes("--calls") ? Number(argv[argv.indexOf("--calls") + 1]) : 10_000

if (argv.includes("--serve")) {
  const server = RpcServer.layer(EchoRpcs, { concurrency: "unbounded", disableTracing: true }).pipe(
    Layer.provide(EchoRpcs.toLayer({ Echo: (p) => Effect.succeed(p) })),
    Layer.provide(RpcServer.layerProtocolSocketServer),
    Layer.provide(RpcSerialization.layerMsgPack),
    Layer.provideMerge(NodeSocketServer.layer({ host: "127.0.0.1", port: 0 }))
  )
  await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
    const context = yield* Layer.build(server)
    const address = Context.get(context, SocketServer.SocketServer).address
    process.stdout.write(`${address.port}\n`)
    yield* Effect.never
  })))
} else {
  const server = spawn(process.execPath, [process.argv[1], "--serve"], { stdio: ["ignore", "pipe", "inherit"] })
  const port = await new Promise((resolve) => server.stdout.once("data", (b) => resolve(Number(String(b).trim()))))
  try {
    const result = await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
      const protocol = yield* Layer.build(RpcClient.layerProtocolSocket().pipe(
        Layer.provide([NodeSocket.layerNet({ host: "127.0.0.1", port }), RpcSerialization.layerMsgPack])
      ))
      const client = yield* RpcClient.make(EchoRpcs, { disableTracing: true }).pipe(Effect.provide(protocol))
      const loop = (n) => Effect.gen(function* () {
        for (let i = 0; i < n; i++) {
          const r = yield* client.Echo({ workerId: "bench-worker-1", n: i })
          if (r.n !== i) return yield* Effect.dieMessage(`echo ${r.n} for ${i}`)
        }
      })
      yield* loop(1_000) // warm-up: JIT, socket buffers
      const t0 = performance.now()
      yield* loop(calls)
      const seconds = (performance.now() - t0) / 1000
      return { roundTrips: calls, seconds: Number(seconds.toFixed(3)), perSecond: Math.round(calls / seconds) }
    })))
    process.stdout.write(JSON.stringify(result) + "\n")
  } finally {
    server.kill()
  }
}
