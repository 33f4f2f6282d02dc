import * as os from "node:os"
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import { ZephyrInfraError } from "../../compiler/plan/Errors.ts"
import * as Transport from "../../rpc/Transport.ts"
import type { Launcher } from "./Launcher.ts"

export interface Options {
  /** HOST:PORT to listen on (e.g. 0.0.0.0:7070 to accept workers from other machines). */
  readonly listen: string
  /** The secret workers must present; a random one is printed when not given. */
  readonly token?: string | undefined
}

/**
 * Workers started by someone else (another machine, a cluster scheduler, a terminal):
 * the coordinator listens and prints the command that joins it,
 *   npx zephyr worker --coordinator HOST:PORT --token T
 * run from the same code checkout on each machine. The pool is never "gone" from here;
 * the registration and no-alive-workers timeouts bound the wait.
 */
export const make = (options: Options): Launcher => ({
  name: "external",
  start: (ctx) =>
    Effect.gen(function* () {
      if (!ctx.spec.module) {
        return yield* Effect.fail(new ZephyrInfraError({ reason: "unsupported-backend", message: "External workers rebuild the pipeline from its module: run it with Zephyr.runModule or the CLI.", retryable: false }))
      }
      const { host, port } = Transport.parseAddress(options.listen)
      const token = options.token ?? randomUUID()
      ctx.coordinator.requireToken(token)
      const address = yield* Transport.serveTcp({ ...ctx.coordinator.handlers }, { host, port }).pipe(
        Effect.mapError((e) => new ZephyrInfraError({ reason: "listen-failed", message: `Could not listen on ${options.listen}: ${String(e)}`, retryable: false }))
      )
      const advertised = address.host === "0.0.0.0" || address.host === "::" ? os.hostname() : address.host
      yield* Effect.logWarning(`waiting for workers; on each machine, in this checkout, run:\n  npx zephyr worker --coordinator ${advertised}:${address.port} --token ${token}`)
      return { gone: Effect.never }
    })
})
