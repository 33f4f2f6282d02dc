import * as net from "node:net"
import { RpcServer } from "@effect/rpc"
import type { FromClientEncoded, FromServerEncoded } from "@effect/rpc/RpcMessage"
import { Effect, Mailbox, Runtime, Schema, type Scope } from "effect"
import { ZephyrInfraError } from "../plan/Errors.ts"
import * as Frames from "./Frames.ts"
import { HELLO, quote } from "./Session.ts"

/**
 * The coordinator's side of its TCP connections, as an @effect/rpc server protocol that
 * guards the door before any message reaches the RPC server:
 *
 * - frames (Frames) of at most `maxFrameBytes`: a bigger one is refused from its header and
 *   its connection closed at once, so junk costs neither memory nor CPU;
 * - the first message must be a `Hello` call; anything else is answered `unauthenticated`
 *   (when it is a call) and the connection closed; a Hello that fails (a wrong token, see
 *   Session) closes it too, and until it is answered nothing but pings may follow it;
 * - a connection that has not been welcomed within `helloTimeoutMs` is closed;
 * - at most `maxConnections` connections at once; the next ones are closed on arrival.
 *
 * Bad connections are logged as warnings, at most one line per `WARN_EVERY_MS` (with a
 * count of the ones left out), so a flood cannot flood the log too. Other connections are
 * served as usual throughout.
 */
export interface Options {
  readonly host: string
  readonly port: number
  readonly maxFrameBytes: number
  readonly helloTimeoutMs: number
  readonly maxConnections: number
  /** A connection is gone (its session, if any, ends). */
  readonly onClose: (clientId: number) => void
}

export interface Listening {
  readonly protocol: RpcServer.Protocol["Type"]
  readonly host: string
  readonly port: number
}

export class ListenError extends Error {}

const WARN_EVERY_MS = 5_000

/** The encoded answer to a call made before Hello. */
const refusal = (requestId: string, tag: string): FromServerEncoded => ({
  _tag: "Exit",
  requestId,
  exit: {
    _tag: "Failure",
    cause: {
      _tag: "Fail",
      error: Schema.encodeSync(ZephyrInfraError)(new ZephyrInfraError({
        reason: "unauthenticated",
        message: `${tag} before Hello: a worker must say Hello with the run's token first; connection closed.`,
        retryable: false
      }))
    }
  }
})

type State = "fresh" | "hello" | "open" | "closing"

interface Connection {
  readonly id: number
  readonly socket: net.Socket
  readonly peer: string
  readonly decoder: Frames.Decoder
  readonly codec: Frames.Codec
  state: State
  helloId: string | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

const isRequestId = (id: unknown): id is string | bigint => typeof id === "string" || typeof id === "bigint"

/** The shape @effect/rpc's server relies on; anything else is not from a client of ours. */
const wellFormed = (m: unknown): m is FromClientEncoded => {
  if (typeof m !== "object" || m === null) return false
  const message = m as Record<string, unknown>
  switch (message._tag) {
    case "Request":
      return typeof message.tag === "string" && isRequestId(message.id) && Array.isArray(message.headers) &&
        message.headers.every((h) => Array.isArray(h) && h.length === 2 && typeof h[0] === "string" && typeof h[1] === "string")
    case "Ack":
    case "Interrupt":
      return isRequestId(message.requestId)
    case "Ping":
    case "Eof":
      return true
    default:
      return false
  }
}

export const listen = (options: Options): Effect.Effect<Listening, ListenError, Scope.Scope> =>
  Effect.gen(function* () {
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const disconnects = yield* Mailbox.make<number>()
    const connections = new Map<number, Connection>()
    let nextId = 0
    let deliver: (clientId: number, message: FromClientEncoded) => Effect.Effect<void> = () => Effect.void

    let lastWarning = -Infinity
    let untold = 0
    const warn = (text: string): void => {
      const now = Date.now()
      if (now - lastWarning < WARN_EVERY_MS) {
        untold++
        return
      }
      lastWarning = now
      const more = untold > 0 ? ` (and ${untold} more refused since the last warning)` : ""
      untold = 0
      runFork(Effect.logWarning(`${text}${more}`))
    }

    /** Closes a connection: at once (junk), or after what was written is flushed (a refusal). */
    const close = (c: Connection, why: string, flush: boolean): void => {
      if (c.state === "closing") return
      c.state = "closing"
      clearTimeout(c.timer)
      warn(`closed connection from ${c.peer}: ${why}`)
      if (!flush) {
        c.socket.destroy()
        return
      }
      c.socket.pause()
      c.socket.end(() => c.socket.destroy())
      setTimeout(() => c.socket.destroy(), 1_000).unref()
    }

    const write = (c: Connection, message: FromServerEncoded): boolean => {
      let frame: Uint8Array
      try {
        frame = c.codec.frame(message)
      } catch (e) {
        close(c, `an answer could not be encoded (${(e as Error)?.message ?? String(e)})`, false)
        return false
      }
      c.socket.write(frame)
      return true
    }

    /** Whether a message from `c` goes on to the RPC server; refuses (and closes) otherwise. */
    const admit = (c: Connection, message: unknown): message is FromClientEncoded => {
      if (!wellFormed(message)) {
        close(c, "a message that is not an RPC message", false)
        return false
      }
      if (c.state === "open") return true
      if (c.state === "fresh" && message._tag === "Request" && message.tag === HELLO) {
        c.state = "hello"
        c.helloId = String(message.id)
        return true
      }
      // A client's keep-alive may come while its Hello is being answered, or before it is
      // sent (a client too busy to send it for 10 s, as in a registration storm of 1,000
      // workers; or one that reconnected and has not retried it yet). A Pong tells nothing,
      // and the Hello timeout still closes a connection that never says Hello.
      if ((c.state === "hello" || c.state === "fresh") && message._tag === "Ping") return true
      const what = message._tag === "Request" ? `a call of ${quote(message.tag)}` : `a ${message._tag} message`
      if (message._tag === "Request") write(c, refusal(String(message.id), quote(message.tag)))
      close(c, `${what} before its Hello was answered`, true)
      return false
    }

    const onData = (c: Connection, data: Buffer): void => {
      if (c.state === "closing") return
      let bodies: Array<Uint8Array>
      try {
        bodies = c.decoder.push(data)
      } catch (e) {
        const why = e instanceof Frames.FrameTooLarge ? `${e.message} (maxMessageSize)` : (e as Error).message
        close(c, why, false)
        return
      }
      for (const body of bodies) {
        let message: unknown
        try {
          message = c.codec.unpack(body)
        } catch {
          close(c, "a frame that is not msgpack", false)
          return
        }
        if (!admit(c, message)) return
        runFork(deliver(c.id, message))
      }
    }

    /** What the RPC server sends: a Hello's answer decides its connection's fate. */
    const send = (clientId: number, response: FromServerEncoded): Effect.Effect<void> =>
      Effect.sync(() => {
        const c = connections.get(clientId)
        if (c === undefined || c.state === "closing") return
        if (!write(c, response)) return
        if (c.state !== "hello") return
        if (response._tag === "Exit" && response.requestId === c.helloId) {
          if (response.exit._tag === "Success") {
            c.state = "open"
            clearTimeout(c.timer)
          } else {
            const error = response.exit.cause as { readonly _tag?: string; readonly error?: { readonly reason?: unknown } }
            const reason = error._tag === "Fail" && typeof error.error?.reason === "string" ? ` (${error.error.reason})` : ""
            close(c, `its Hello was refused${reason}`, true)
          }
        } else if (response._tag === "Defect") {
          close(c, "its Hello was malformed", true)
        }
      })

    const protocol = yield* RpcServer.Protocol.make((writeRequest) => {
      deliver = writeRequest
      return Effect.succeed({
        disconnects,
        send,
        end: (clientId: number) => Effect.sync(() => { connections.get(clientId)?.socket.end() }),
        clientIds: Effect.sync(() => new Set(connections.keys())),
        initialMessage: Effect.succeedNone,
        supportsAck: true,
        supportsTransferables: false,
        supportsSpanPropagation: false
      })
    })
    const server = net.createServer({ noDelay: true }, (socket) => {
      const c: Connection = {
        id: nextId++,
        socket,
        peer: `${socket.remoteAddress}:${socket.remotePort}`,
        decoder: new Frames.Decoder(options.maxFrameBytes),
        codec: Frames.makeCodec(),
        state: "fresh",
        helloId: undefined,
        timer: undefined
      }
      c.timer = setTimeout(() => { if (c.state === "fresh" || c.state === "hello") close(c, `no Hello within ${options.helloTimeoutMs} ms`, false) }, options.helloTimeoutMs)
      c.timer.unref()
      connections.set(c.id, c)
      socket.on("data", (data: Buffer) => onData(c, data))
      socket.on("error", () => undefined) // a reset by the peer; "close" follows
      socket.on("close", () => {
        clearTimeout(c.timer)
        c.state = "closing"
        connections.delete(c.id)
        options.onClose(c.id)
        disconnects.unsafeOffer(c.id)
      })
    })
    server.maxConnections = options.maxConnections
    server.on("drop", (data?: { readonly remoteAddress?: string; readonly remotePort?: number }) =>
      warn(`refused a connection from ${data?.remoteAddress}:${data?.remotePort}: already ${options.maxConnections} connections (the limit)`))

    yield* Effect.async<void, ListenError>((resume) => {
      const onError = (e: Error) => resume(Effect.fail(new ListenError(e.message)))
      server.once("error", onError)
      server.listen({ host: options.host, port: options.port }, () => {
        server.off("error", onError)
        resume(Effect.void)
      })
    })
    server.on("error", (e) => runFork(Effect.logWarning(`coordinator socket: ${e.message}`)))
    yield* Effect.addFinalizer(() => Effect.async<void>((resume) => {
      for (const c of connections.values()) c.socket.destroy()
      server.close(() => resume(Effect.void))
    }))

    const address = server.address() as net.AddressInfo
    return { protocol, host: address.address, port: address.port }
  })
