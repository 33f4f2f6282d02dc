import { Cause, Deferred, Effect, Exit, Fiber } from "effect"
import * as Transport from "../../rpc/Transport.ts"
import * as Worker from "../worker/Worker.ts"
import type { Launcher } from "./Launcher.ts"

/**
 * Workers as fibers of this process, talking to the coordinator through the in-memory
 * RPC client. They share the compiled plan and the caller's services; the default for a
 * dataset built in the calling process, and for tests.
 */
export const launcher: Launcher = {
  name: "in-process",
  start: (ctx) =>
    Effect.gen(function* () {
      const gone = yield* Deferred.make<void>()
      let running = ctx.workers
      const fibers: Array<Fiber.RuntimeFiber<unknown, unknown>> = []
      for (let i = 0; i < ctx.workers; i++) {
        const workerId = `${ctx.name}-w${i}`
        const worker = Effect.scoped(Effect.gen(function* () {
          const client = yield* Transport.inMemory(ctx.coordinator.handlers)
          return yield* Worker.run({
            workerId,
            token: "",
            client,
            load: () => Effect.succeed({ executable: ctx.executable, layer: ctx.layer }),
            shared: () => (name) => {
              if (!(name in ctx.shared)) throw Worker.unknownShared(name, Object.keys(ctx.shared))
              return ctx.shared[name]
            }
          })
        })).pipe(
          Effect.onExit((exit) =>
            Effect.gen(function* () {
              if (Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)) {
                yield* ctx.coordinator.workerExited(workerId, Cause.pretty(exit.cause).split("\n")[0] ?? "failed")
              }
              if (--running === 0) yield* Deferred.succeed(gone, undefined)
            })
          )
        )
        fibers.push(yield* Effect.forkScoped(worker))
      }
      yield* Effect.addFinalizer(() => Fiber.interruptAll(fibers))
      return { gone: Deferred.await(gone) }
    })
}
