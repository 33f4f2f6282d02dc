import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as WorkerProcesses from "../runtime/launcher/WorkerProcesses.ts"
import * as MemoryBudget from "../runtime/MemoryBudget.ts"

/**
 * `zephyr run` on the local backend starts its worker processes from the command line,
 * before the engine itself is loaded: a worker needs about as long to load the engine and
 * the module as the driver needs to plan, and both should happen at once. This is only a
 * head start: the run checks its options properly and starts (or stops) processes as it
 * needs; a guess that does not match its module or options only costs processes it stops.
 */
const scriptFile = /\.(?:[cm]?[jt]s|tsx|jsx)$/

/** What `zephyr run ARGS` will most likely need: how many workers, for which module; undefined for no head start. */
export const headStart = (args: ReadonlyArray<string>, cores: number = os.availableParallelism?.() ?? os.cpus().length): { readonly workers: number; readonly module: string } | undefined => {
  let workers = cores
  let module: string | undefined
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    const [flag, inline] = a.startsWith("--") && a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined]
    const value = () => inline ?? args[++i]
    if (flag === "--backend") { if (value() !== "local") return undefined }
    else if (flag === "--workers") {
      const n = Number(value())
      if (!Number.isInteger(n) || n < 1) return undefined
      workers = n
    }
    // The run's own start sizes the heap from these; no head start for them.
    else if (flag === "--memory-budget" || flag === "--dry-run" || flag === "--help" || flag === "-h") return undefined
    else if (flag === "--arg") value()
    else if (module === undefined && !a.startsWith("-") && scriptFile.test(a) && fs.existsSync(a)) module = path.resolve(a)
  }
  return module === undefined ? undefined : { workers, module }
}

export const startFromCommandLine = (args: ReadonlyArray<string>): void => {
  const start = headStart(args)
  if (start) WorkerProcesses.prestart(start.workers, start.module, MemoryBudget.defaultBytes)
}
