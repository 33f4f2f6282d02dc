import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { SocketServer } from "@effect/platform"
import { type RpcClientError, RpcClient, type RpcGroup, RpcSerialization, RpcServer, RpcTest } from "@effect/rpc"
import { Context, Effect, Layer, Schedule, type Scope } from "effect"
import { CoordinatorRpcs } from "./CoordinatorRpcs.ts"

/** A connected client of the coordinator, whatever the transport. */
export type CoordinatorClient = RpcClient.RpcClient<RpcGroup.Rpcs<typeof CoordinatorRpcs>, RpcClientError.RpcClientError>

export type Handlers = Parameters<typeof CoordinatorRpcs.toLayer>[0]

/** 16 MiB frames close the socket; task messages are tiny, but reports may carry inline items. */
const serialization = RpcSerialization.layerMsgPack

/**
 * Serves the coordinator over TCP with msgpack (127.0.0.1 and an ephemeral port by
 * default). A handler that dies fails only its own call (`disableFatalDefects`), and
 * tracing is off on these hot calls.
 */
export const serveTcp = (
  handlers: Handlers,
  options: { readonly host?: string | undefined; readonly port?: number | undefined } = {}
): Effect.Effect<{ readonly host: string; readonly port: number }, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function* () {
    const server = RpcServer.layer(CoordinatorRpcs, { disableFatalDefects: true, concurrency: "unbounded", disableTracing: true }).pipe(
      Layer.provide(CoordinatorRpcs.toLayer(handlers)),
      Layer.provide(RpcServer.layerProtocolSocketServer),
      Layer.provide(serialization),
      Layer.provideMerge(NodeSocketServer.layer({ host: options.host ?? "127.0.0.1", port: options.port ?? 0 }))
    )
    const context = yield* Layer.build(server)
    const address = Context.get(context, SocketServer.SocketServer).address
    if (address._tag !== "TcpAddress") return yield* Effect.dieMessage("coordinator socket is not TCP")
    return { host: address.hostname, port: address.port }
  }) as Effect.Effect<{ readonly host: string; readonly port: number }, SocketServer.SocketServerError, Scope.Scope>

/** A client over TCP that reconnects on transient errors (in-flight calls are not replayed). */
export const connectTcp = (host: string, port: number) =>
  Effect.gen(function* () {
    // Built into the caller's scope (not Effect.provide's own), so the socket lives as long as the client.
    const protocol = yield* Layer.build(
      RpcClient.layerProtocolSocket({ retryTransientErrors: true, retrySchedule: Schedule.exponential("100 millis", 1.5).pipe(Schedule.union(Schedule.spaced("2 seconds"))) }).pipe(
        Layer.provide([NodeSocket.layerNet({ host, port }), serialization])
      )
    )
    return yield* RpcClient.make(CoordinatorRpcs, { disableTracing: true }).pipe(Effect.provide(protocol))
  }) as unknown as Effect.Effect<CoordinatorClient, never, import("effect").Scope.Scope>

/** A client wired straight to the handlers, for in-process workers and tests. */
export const inMemory = (handlers: Handlers) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(CoordinatorRpcs.toLayer(handlers))
    return yield* RpcTest.makeClient(CoordinatorRpcs).pipe(Effect.provide(context))
  }) as unknown as Effect.Effect<CoordinatorClient, never, import("effect").Scope.Scope>

export const parseAddress = (address: string): { readonly host: string; readonly port: number } => {
  const m = /^(.*):(\d+)$/.exec(address.trim())
  if (!m || !m[1]) throw new Error(`Invalid coordinator address ${JSON.stringify(address)}: expected HOST:PORT, e.g. 127.0.0.1:7070`)
  return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) }
}
