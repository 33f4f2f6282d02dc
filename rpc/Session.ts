import { createHash, timingSafeEqual } from "node:crypto"
import { RpcMiddleware } from "@effect/rpc"
import { Effect, Layer } from "effect"
import { ZephyrInfraError } from "../plan/Errors.ts"

/**
 * Who may call the coordinator. A connection starts without a session; its `Hello`, when it
 * carries the run's token, opens one for the worker it names, and every other call on that
 * connection must come from that worker. This middleware checks every call, the Hello's
 * token included, on top of the socket protocol that refuses and closes a connection whose
 * first call is not a Hello (SocketProtocol).
 *
 * Tokens are compared in constant time, over their SHA-256 digests (so the length of the
 * right token does not show either), and never appear in a message or a log line.
 */
export class Session extends RpcMiddleware.Tag<Session>()("zephyr/rpc/Session", { failure: ZephyrInfraError }) {}

/** The RPC that opens a session. */
export const HELLO = "Hello"

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest()

/** Whether `presented` is `expected`, in time that does not depend on where they differ. */
export const tokenMatches = (expected: Buffer, presented: unknown): boolean =>
  typeof presented === "string" && timingSafeEqual(expected, digest(presented))

/** A name from the wire, fit for a message or a log line (no newlines, bounded). */
export const quote = (value: unknown): string => JSON.stringify(typeof value === "string" ? value.slice(0, 64) : String(value).slice(0, 64))

export interface Sessions {
  /** Checks one call of connection `clientId`; a good Hello opens its session. */
  readonly check: (clientId: number, rpc: string, payload: unknown) => Effect.Effect<void, ZephyrInfraError>
  /** Forgets a connection's session (it closed). */
  readonly end: (clientId: number) => void
}

const refused = (message: string) => new ZephyrInfraError({ reason: "unauthenticated", message, retryable: false })

/** The sessions of one server, for workers that must present `token`. */
export const make = (token: string): Sessions => {
  const expected = digest(token)
  const workers = new Map<number, string>()
  return {
    check: (clientId, rpc, payload) => {
      const workerId = (payload as { readonly workerId?: unknown } | undefined)?.workerId
      const bound = workers.get(clientId)
      if (rpc === HELLO) {
        if (!tokenMatches(expected, (payload as { readonly token?: unknown } | undefined)?.token)) {
          // Logged by the socket protocol, which closes the connection (at a bounded rate).
          return Effect.fail(refused(`Worker ${quote(workerId)} presented a wrong token; start workers with the token the coordinator was given (the ZEPHYR_TOKEN environment variable, or --token).`))
        }
        if (bound !== undefined && bound !== workerId) return Effect.fail(refused(`This connection said Hello as worker ${quote(bound)}; worker ${quote(workerId)} needs its own connection.`))
        workers.set(clientId, workerId as string)
        return Effect.void
      }
      if (bound === undefined) return Effect.fail(refused(`${rpc} before Hello: a worker must say Hello with the run's token first.`))
      if (workerId !== undefined && workerId !== bound) return Effect.fail(refused(`This connection speaks for worker ${quote(bound)}, not for ${quote(workerId)}.`))
      return Effect.void
    },
    end: (clientId) => { workers.delete(clientId) }
  }
}

/** The middleware over a server's sessions. */
export const layer = (sessions: Sessions): Layer.Layer<Session> =>
  Layer.succeed(Session, ({ clientId, rpc, payload }) => sessions.check(clientId, rpc._tag, payload))

/** For the in-memory transport: its callers are fibers of the coordinator's own process. */
export const layerTrusted: Layer.Layer<Session> = Layer.succeed(Session, () => Effect.void)
