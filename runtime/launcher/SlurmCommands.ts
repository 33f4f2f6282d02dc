import { execFile } from "node:child_process"
import { Context, Data, Effect, Layer } from "effect"

/**
 * Slurm's commands as the slurm backend uses them. The real layer runs the programs on the
 * PATH with this process's environment (so `SLURM_CONF` and the rest of Slurm's variables
 * apply as they do in a shell); the test layer answers from a function, so the launcher's
 * decisions are tested without a cluster.
 */
export type Program = "sbatch" | "scancel" | "squeue" | "sacct" | "scontrol"

export interface Invocation {
  readonly program: Program
  readonly args: ReadonlyArray<string>
  /** Given on stdin (sbatch's batch script). */
  readonly input?: string | undefined
  /** Added to the environment; never logged (it holds the token). */
  readonly env?: Readonly<Record<string, string>> | undefined
}

export class SlurmCommandError extends Data.TaggedError("SlurmCommandError")<{
  readonly program: Program
  /** What the program said on stderr (or why it could not run), for the user's eyes. */
  readonly message: string
  /** The exit code; undefined when the program could not be started or timed out. */
  readonly code: number | undefined
}> {}

export interface Service {
  /** Runs a program; its stdout when it exits 0. */
  readonly run: (invocation: Invocation) => Effect.Effect<string, SlurmCommandError>
}

export class SlurmCommands extends Context.Tag("zephyr/SlurmCommands")<SlurmCommands, Service>() {}

/** A command that hangs (an unreachable controller) fails after this long; the next poll tries again. */
const TIMEOUT_MS = 60_000

const clip = (text: string): string => {
  const t = text.trim()
  return t.length > 2_000 ? `${t.slice(0, 2_000)}...` : t
}

export const fromChildProcess: Service = {
  run: ({ program, args, input, env }) =>
    Effect.async<string, SlurmCommandError>((resume, signal) => {
      const child = execFile(program, [...args], {
        env: env ? { ...process.env, ...env } : process.env,
        encoding: "utf8",
        timeout: TIMEOUT_MS,
        maxBuffer: 64 << 20,
        signal
      }, (error, stdout, stderr) => {
        if (!error) return resume(Effect.succeed(stdout))
        const e = error as NodeJS.ErrnoException & { code?: unknown; killed?: boolean }
        const message = e.code === "ENOENT"
          ? `${program} was not found on the PATH: the slurm backend runs Slurm's commands (install Slurm's client, or run the driver on a login node)`
          : e.killed ? `${program} did not answer within ${TIMEOUT_MS / 1000}s` : clip(stderr) || clip(e.message)
        resume(Effect.fail(new SlurmCommandError({ program, message, code: typeof e.code === "number" ? e.code : undefined })))
      })
      child.stdin?.on("error", () => undefined)
      child.stdin?.end(input ?? "")
    })
}

export const layer: Layer.Layer<SlurmCommands> = Layer.succeed(SlurmCommands, fromChildProcess)

/** For tests: every invocation is recorded, and `answer` says what each one gives. */
export const layerTest = (
  answer: (invocation: Invocation) => Effect.Effect<string, SlurmCommandError>,
  calls: Array<Invocation> = []
): Layer.Layer<SlurmCommands> =>
  Layer.succeed(SlurmCommands, { run: (invocation) => Effect.suspend(() => { calls.push(invocation); return answer(invocation) }) })
