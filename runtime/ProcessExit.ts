import { Cause, Effect, Exit } from "effect"

/**
 * How Zephyr's processes (the `zephyr` command, a local worker) end: 0 on success, 130 when
 * interrupted (Ctrl-C, SIGTERM), 1 on failure, whose message goes to stderr as a sentence.
 */
export const codeOf = (exit: Exit.Exit<unknown, unknown>): number =>
  Exit.isSuccess(exit) ? 0 : Cause.isInterruptedOnly(exit.cause) ? 130 : 1

/**
 * A worker's teardown: it exits as soon as its program ends, success included. The default
 * lets a successful process linger until its event loop drains, after its signal handlers
 * are gone, so the driver's SIGTERM at the end of a run would kill it without its exit
 * handlers. From here on SIGTERM and SIGINT are ignored: the process is exiting, and a
 * signal between the runtime's handlers going and the process ending (during the exit
 * handlers, after the code cache's own deferral of SIGTERM ends) killed it before the
 * module's exit handlers ran (a test saw it in 2 of 20 runs on a cold cache). A worker
 * whose exit handlers hang is still killed by the driver's SIGKILL.
 */
export const exitAtOnce = (exit: Exit.Exit<unknown, unknown>): void => {
  process.on("SIGTERM", ignoreSignal)
  process.on("SIGINT", ignoreSignal)
  process.exit(codeOf(exit))
}

/** A signal's listener that does nothing: while it is installed, the signal no longer kills the process. */
const ignoreSignal = (): void => {}

/** Prints a failure as the user's sentence (no stack of ours); nothing for an interruption. */
export const printFailure = (cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Cause.isInterruptedOnly(cause) ? Effect.void : Effect.sync(() => {
    const failure = Cause.squash(cause) as { message?: unknown }
    process.stderr.write(`zephyr: ${typeof failure?.message === "string" ? failure.message : String(failure)}\n`)
  })
