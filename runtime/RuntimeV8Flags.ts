import * as v8 from "node:v8"
import { processGlobal } from "./ProcessGlobal.ts"

/**
 * V8 flags a process sets on itself from its environment, for a worker whose command line
 * Zephyr does not write: a Kubernetes pod's `zephyr worker` gets its heap flags through
 * NODE_OPTIONS, which refuses `--heap-growing-percent` (see WorkerProcesses.heapGrowingPercent),
 * so the pod carries that one in HEAP_GROWING_PERCENT_ENV. The `zephyr` command (bin/zephyr.js,
 * through dist/runtime-v8-flags.js) sets it first, before any of the engine's code is
 * compiled: V8 checks a code cache against its flags, and the engine's cache (CodeCache) is
 * named after the flags set here as well as those on the command line, so a process that
 * sets them and one that does not each keep a cache their own V8 accepts.
 */

export const HEAP_GROWING_PERCENT_ENV = "ZEPHYR_HEAP_GROWING_PERCENT"

const applied = processGlobal("RuntimeV8Flags/applied", (): { flags: ReadonlyArray<string> } => ({ flags: [] }))

/** The flags this process set on itself (`applyFromEnvironment`), for CodeCache's names. */
export const appliedFlags = (): ReadonlyArray<string> => applied.flags

/**
 * Sets the flags `env` asks for and returns them; a value that is not a percentage from 1 to
 * 999 sets nothing (and says so on stderr: the worker runs, with V8's own growth).
 */
export const applyFromEnvironment = (env: Readonly<Record<string, string | undefined>>): ReadonlyArray<string> => {
  const percent = env[HEAP_GROWING_PERCENT_ENV]
  if (percent === undefined || percent === "" || applied.flags.length > 0) return applied.flags
  if (!/^[1-9][0-9]{0,2}$/.test(percent)) {
    process.stderr.write(`zephyr: ignoring ${HEAP_GROWING_PERCENT_ENV}=${JSON.stringify(percent)}: it must be a whole percentage from 1 to 999.\n`)
    return applied.flags
  }
  const flag = `--heap-growing-percent=${percent}`
  v8.setFlagsFromString(flag)
  applied.flags = [flag]
  return applied.flags
}
