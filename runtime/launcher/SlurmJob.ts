import * as path from "node:path"
import type * as SlurmOptions from "./SlurmOptions.ts"

/**
 * What the slurm backend submits: one job array, task i being worker `<pool>-w<i>`, whose
 * batch script runs `zephyr worker` with the driver's own Node and checkout. The
 * coordinator's address and the token travel in the job's environment (sbatch copies its
 * own, `--export=ALL`), never in the script or on a command line: Slurm keeps a job's
 * environment where only its owner and the administrators read it, and `ps` shows
 * arguments to everyone.
 */

/** The variables the batch script reads. */
export const COORDINATOR_ENV = "ZEPHYR_COORDINATOR"
export const TOKEN_ENV = "ZEPHYR_TOKEN"

export interface Input {
  /** The pool's name (execution and attempt): workers are `<pool>-w<task>`. */
  readonly pool: string
  readonly workers: number
  /** HOST:PORT the workers dial. */
  readonly coordinator: string
  readonly token: string
  /** The Node binary and the `zephyr` command the driver runs (bin/zephyr.js of this checkout). */
  readonly node: string
  readonly zephyr: string
  /** A worker's V8 heap, as local workers get it: its sizes on the command line (WorkerProcesses.heapFlags), its growth in the environment (WorkerProcesses.heapEnvironment). */
  readonly heapFlags: ReadonlyArray<string>
  readonly heapEnvironment: Readonly<Record<string, string>>
  /** Where each task's output goes (the execution directory, kept when a run fails); none: Slurm's default. */
  readonly logDir: string | undefined
  readonly options: SlurmOptions.Resolved
}

export interface Submission {
  readonly args: ReadonlyArray<string>
  /** The batch script, given to sbatch on stdin. */
  readonly script: string
  /** Added to sbatch's environment, which the tasks inherit. */
  readonly env: Readonly<Record<string, string>>
  /** Task i's output file, with the job id still to fill in (`%A`). */
  readonly logPattern: string | undefined
}

/** A word the shell reads back unchanged. */
export const shellQuote = (word: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)

export const script = (input: Input): string => [
  "#!/bin/sh",
  `# Zephyr worker of pool ${input.pool}, one per array task (written by the slurm backend).`,
  `# ${COORDINATOR_ENV} and ${TOKEN_ENV} come in the job's environment.`,
  `: "\${${COORDINATOR_ENV}:?is not set: submit with sbatch --export=ALL}"`,
  `exec ${[input.node, ...input.heapFlags, input.zephyr, "worker"].map(shellQuote).join(" ")} --coordinator "$${COORDINATOR_ENV}" --worker-id ${shellQuote(`${input.pool}-w`)}"$SLURM_ARRAY_TASK_ID"`,
  ""
].join("\n")

/** `%` and `\` are file-name patterns to Slurm: a directory holding them gets Slurm's default output file instead. */
const logPattern = (logDir: string | undefined): string | undefined =>
  logDir === undefined || /[%\\]/.test(logDir) ? undefined : path.join(logDir, "slurm-%A_%a.log")

export const submission = (input: Input): Submission => {
  const o = input.options
  const log = logPattern(input.logDir)
  return {
    args: [
      "--parsable",
      `--array=0-${input.workers - 1}`,
      `--job-name=zephyr-${input.pool}`,
      "--export=ALL",
      "--ntasks=1",
      // A lost task may be requeued (the restart policy, --max-worker-restarts), where a cluster's JobRequeue=0 would refuse it.
      "--requeue",
      ...(log ? [`--output=${log}`] : []),
      ...(o.partition ? [`--partition=${o.partition}`] : []),
      ...(o.time ? [`--time=${o.time}`] : []),
      ...(o.cpusPerWorker ? [`--cpus-per-task=${o.cpusPerWorker}`] : []),
      ...(o.memoryMegabytes ? [`--mem=${o.memoryMegabytes}M`] : []),
      // Last, so that one of them (another --output, --job-name) wins over ours.
      ...o.sbatchArgs
    ],
    script: script(input),
    env: { ...input.heapEnvironment, [COORDINATOR_ENV]: input.coordinator, [TOKEN_ENV]: input.token },
    logPattern: log
  }
}

/** The job id in `sbatch --parsable` output (`1234` or `1234;cluster`). */
export const jobIdOf = (stdout: string): string | undefined => /^\s*(\d+)(?:;\S*)?\s*$/.exec(stdout)?.[1]

/** Task i's output file, once the job id is known. */
export const logOf = (pattern: string | undefined, jobId: string, task: number): string | undefined =>
  pattern?.replace("%A", jobId).replace("%a", String(task))
