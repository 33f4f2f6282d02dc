import * as os from "node:os"
import { randomBytes } from "node:crypto"
import { Effect } from "effect"
import { ZephyrInfraError } from "../../plan/Errors.ts"
import * as Transport from "../../rpc/Transport.ts"
import type { Launcher } from "./Launcher.ts"

export interface Options {
  /** HOST:PORT to listen on (RunOptions made sure an address off loopback comes with a token). */
  readonly listen: string
  /** The secret workers must present; on loopback a random one, printed once, when not given. */
  readonly token?: string | undefined
  readonly maxConnections?: number | undefined
}

/**
 * Workers started by someone else (another machine, a cluster scheduler, a terminal):
 * the coordinator listens and logs the command that joins it,
 *   ZEPHYR_TOKEN=... npx zephyr worker --coordinator HOST:PORT
 * run from the same code checkout on each machine. The token is never logged: the user
 * gave it, or (on loopback only) it is generated and printed once on stderr, outside the
 * logs. It is the same for every attempt of the execution. The pool is never "gone" from
 * here; the registration and no-alive-workers timeouts bound the wait.
 */
export const make = (options: Options): Launcher => {
  const generated = options.token === undefined
  const token = options.token ?? randomBytes(24).toString("base64url")
  let told = false
  return {
    name: "external",
    start: (ctx) =>
      Effect.gen(function* () {
        if (!ctx.spec.module) {
          return yield* Effect.fail(new ZephyrInfraError({ reason: "unsupported-backend", message: "External workers rebuild the pipeline from its module: run it with Zephyr.runModule or the CLI.", retryable: false }))
        }
        const { host, port } = Transport.parseAddress(options.listen)
        const address = yield* Transport.serveTcp({ ...ctx.coordinator.handlers }, {
          host, port, token, maxFrameBytes: ctx.spec.maxMessageBytes, maxConnections: options.maxConnections
        }).pipe(
          Effect.mapError((e) => new ZephyrInfraError({ reason: "listen-failed", message: `Could not listen on ${options.listen}: ${e.message}`, retryable: false }))
        )
        const advertised = address.host === "0.0.0.0" || address.host === "::" ? os.hostname() : address.host
        const tokenFrom = generated ? "the token printed above" : "the run's token"
        if (generated && !told) {
          told = true
          process.stderr.write(`zephyr: workers must present this run's token (generated, printed once): ${token}\n`)
        }
        yield* Effect.logWarning(`waiting for workers; on each machine, in this checkout, with ZEPHYR_TOKEN set to ${tokenFrom}, run:\n  npx zephyr worker --coordinator ${advertised}:${address.port}`)
        return { gone: Effect.never }
      })
  }
}
