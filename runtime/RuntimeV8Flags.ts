import * as v8 from "node:v8"
import { processGlobal } from "./ProcessGlobal.ts"

/**
 * The V8 flags of a worker process's heap, and when it sets them: so that V8's flag hash
 * stays its default while code is compiled.
 *
 * Why: V8 accepts a code cache only if it was made under the same flags, and the cache Node
 * carries for its own modules (net, crypto, streams, worker_threads... 93 of them in a worker)
 * was made under none. A worker started with `--max-old-space-size` compiled every one of them
 * from source instead (`require` of 19 of them: 40-58 ms against 14-17 ms; perf, a no-op run:
 * 35-39 ms of parsing per worker, now 14-20 ms; 30 alternating runs: 0.56 s of CPU per worker
 * against 0.58 s). What still compiles before the flags are settled: the ES module loader's
 * own modules (the worker's program is an ES module) and node:v8 with the streams it loads.
 * - The heap's sizes (`WorkerProcesses.heapFlags`) still come on the command line or in
 *   NODE_OPTIONS: V8 reads them once, when it makes the heap. The worker sets them back to
 *   V8's defaults first thing (`settleHeapSizes`), which leaves the heap as made.
 * - The heap's growth (`--heap-growing-percent`), which V8 reads at each collection, comes in
 *   the environment (HEAP_GROWING_PERCENT_ENV) and is set once the worker has loaded the
 *   engine (`applyHeapGrowth`); the few modules Node loads after that compile from source.
 * - The engine's own code cache is made at exit (CodeCache.save) with that growth set back to
 *   its default (`asAtStart`), so the next start accepts it.
 */

export const HEAP_GROWING_PERCENT_ENV = "ZEPHYR_HEAP_GROWING_PERCENT"

/** The heap's sizes, read when V8 made the heap, and their defaults. */
const sizeFlags = ["--max-old-space-size=0", "--max-semi-space-size=0"]

const applied = processGlobal("RuntimeV8Flags/applied", (): { flags: ReadonlyArray<string> } => ({ flags: [] }))

/** Sets the heap's size flags back to V8's defaults (see above); the heap keeps the sizes it was made with. */
export const settleHeapSizes = (): void => {
  for (const flag of sizeFlags) v8.setFlagsFromString(flag)
}

/**
 * Sets the heap's growth `env` asks for and returns the flags set; a value that is not a
 * percentage from 1 to 999 sets nothing (and says so on stderr: the worker runs, with V8's
 * own growth).
 */
export const applyHeapGrowth = (env: Readonly<Record<string, string | undefined>>): ReadonlyArray<string> => {
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

/** Runs `f` with the flags `applyHeapGrowth` set back to their defaults, as they were when the process loaded its code. */
export const asAtStart = <A>(f: () => A): A => {
  const flags = applied.flags
  for (const flag of flags) v8.setFlagsFromString(`${flag.slice(0, flag.indexOf("="))}=0`)
  try {
    return f()
  } finally {
    for (const flag of flags) v8.setFlagsFromString(flag)
  }
}
