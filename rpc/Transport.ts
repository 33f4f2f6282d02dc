// The shared package's: @effect/platform-node's NodeSocket adds WebSockets, loading `ws` in every process.
import * as NodeSocket from "@effect/platform-node-shared/NodeSocket"
import { type RpcClientError, RpcClient, type RpcGroup, RpcServer, RpcTest } from "@effect/rpc"
import { Effect, Layer, Schedule, type Scope } from "effect"
import { CoordinatorRpcs } from "./CoordinatorRpcs.ts"
import * as Frames from "./Frames.ts"
import * as Session from "./Session.ts"
import * as SocketProtocol from "./SocketProtocol.ts"

/**
 * How workers reach the coordinator: TCP with length-prefixed msgpack frames (Frames), or
 * in memory for workers that are fibers of the coordinator's own process.
 *
 * The auth model over TCP: every run has a token, a secret the driver chooses or generates
 * (SocketProtocol and Session enforce it).
 * 1. A worker connects and its first call is `Hello { workerId, token }`. Any other first
 *    call is refused as `unauthenticated` and the connection closed; so is a Hello with a
 *    wrong token (compared in constant time). Nothing about the run, its fingerprint
 *    included, is told before a good Hello.
 * 2. A good Hello binds the connection to that worker's session: every later call on it is
 *    checked by the Session middleware and must speak for the same worker. Every new
 *    connection, a reconnection too, starts without a session.
 * 3. Limits: a connection that says no Hello within `helloTimeoutMs` (10 s) is closed; at
 *    most `maxConnections` (1024) connections at once; a frame over `maxFrameBytes` (1 MiB,
 *    `maxMessageSize`) closes its connection. Messages carry chunk references, not data.
 * 4. The coordinator listens on 127.0.0.1 unless told otherwise; the external backend
 *    refuses an address off loopback without a token given by the user (RunOptions).
 *    Local workers get the token on stdin, remote ones from ZEPHYR_TOKEN (or --token).
 * The token authenticates; it does not encrypt. Across machines, run on a network you
 * trust or through a tunnel.
 */

/** A connected client of the coordinator, whatever the transport. */
export type CoordinatorClient = RpcClient.RpcClient<RpcGroup.Rpcs<typeof CoordinatorRpcs>, RpcClientError.RpcClientError>

export type Handlers = Parameters<typeof CoordinatorRpcs.toLayer>[0]

/** The coordinator's limits on its connections (run options override some, see RunOptions). */
export const limits = {
  /** The largest message the coordinator accepts: reports carry chunk references, not data. */
  maxFrameBytes: 1 << 20,
  /** A connection must have said Hello by then. */
  helloTimeoutMs: 10_000,
  /** Connections at once (each worker holds one). */
  maxConnections: 1024,
  /** The largest message a worker accepts from its coordinator (a batch of tasks). */
  maxResponseBytes: 16 << 20
} as const

export interface ServeOptions {
  /** The secret every worker must present on Hello. */
  readonly token: string
  /** 127.0.0.1 unless told otherwise. */
  readonly host?: string | undefined
  /** An ephemeral port unless told otherwise. */
  readonly port?: number | undefined
  readonly maxFrameBytes?: number | undefined
  readonly helloTimeoutMs?: number | undefined
  readonly maxConnections?: number | undefined
}

/**
 * Serves the coordinator over TCP. A handler that dies fails only its own call
 * (`disableFatalDefects`), and tracing is off on these hot calls.
 */
export const serveTcp = (handlers: Handlers, options: ServeOptions): Effect.Effect<{ readonly host: string; readonly port: number }, SocketProtocol.ListenError, Scope.Scope> =>
  Effect.gen(function* () {
    const sessions = Session.make(options.token)
    const listening = yield* SocketProtocol.listen({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      maxFrameBytes: options.maxFrameBytes ?? limits.maxFrameBytes,
      helloTimeoutMs: options.helloTimeoutMs ?? limits.helloTimeoutMs,
      maxConnections: options.maxConnections ?? limits.maxConnections,
      onClose: sessions.end
    })
    yield* Layer.build(
      RpcServer.layer(CoordinatorRpcs, { disableFatalDefects: true, concurrency: "unbounded", disableTracing: true }).pipe(
        Layer.provide(CoordinatorRpcs.toLayer(handlers)),
        Layer.provide(Session.layer(sessions)),
        Layer.provide(Layer.succeed(RpcServer.Protocol, listening.protocol))
      )
    )
    return { host: listening.host, port: listening.port }
  }) as Effect.Effect<{ readonly host: string; readonly port: number }, SocketProtocol.ListenError, Scope.Scope>

/** A client over TCP that reconnects on transient errors (in-flight calls are not replayed). */
export const connectTcp = (host: string, port: number) =>
  Effect.gen(function* () {
    // Built into the caller's scope (not Effect.provide's own), so the socket lives as long as the client.
    const protocol = yield* Layer.build(
      RpcClient.layerProtocolSocket({ retryTransientErrors: true, retrySchedule: Schedule.exponential("100 millis", 1.5).pipe(Schedule.union(Schedule.spaced("2 seconds"))) }).pipe(
        Layer.provide([NodeSocket.layerNet({ host, port }), Frames.layer(limits.maxResponseBytes)])
      )
    )
    return yield* RpcClient.make(CoordinatorRpcs, { disableTracing: true }).pipe(Effect.provide(protocol))
  }) as unknown as Effect.Effect<CoordinatorClient, never, Scope.Scope>

/**
 * One connection over TCP, for one worker session: it is not re-opened when it breaks (every
 * call then fails with RpcClientError), because the coordinator only talks to a connection
 * that starts with a Hello. The worker dials a new one instead (Worker: Hello, then Register
 * again under the same id).
 */
export const dialTcp = (host: string, port: number) =>
  Effect.gen(function* () {
    const protocol = yield* Layer.build(
      RpcClient.layerProtocolSocket({ retryTransientErrors: false, retrySchedule: Schedule.stop }).pipe(
        Layer.provide([NodeSocket.layerNet({ host, port }), Frames.layer(limits.maxResponseBytes)])
      )
    )
    return yield* RpcClient.make(CoordinatorRpcs, { disableTracing: true }).pipe(Effect.provide(protocol))
  }) as unknown as Effect.Effect<CoordinatorClient, never, Scope.Scope>

/** A client wired straight to the handlers, for in-process workers and tests. */
export const inMemory = (handlers: Handlers) =>
  Effect.gen(function* () {
    const context = yield* Layer.build(Layer.merge(CoordinatorRpcs.toLayer(handlers), Session.layerTrusted))
    return yield* RpcTest.makeClient(CoordinatorRpcs).pipe(Effect.provide(context))
  }) as unknown as Effect.Effect<CoordinatorClient, never, Scope.Scope>

export const parseAddress = (address: string): { readonly host: string; readonly port: number } => {
  const m = /^(.*):(\d+)$/.exec(address.trim())
  if (!m || !m[1] || Number(m[2]) > 65_535) throw new Error(`Invalid coordinator address ${JSON.stringify(address)}: expected HOST:PORT, e.g. 127.0.0.1:7070`)
  return { host: m[1].replace(/^\[|\]$/g, ""), port: Number(m[2]) }
}

/** Whether only this machine can reach `host` (127.0.0.0/8, ::1, localhost). */
export const isLoopback = (host: string): boolean => {
  const h = host.toLowerCase()
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}
