import { ZephyrPlanError } from "../../plan/Errors.ts"

/** What the slurm backend asks of Slurm for each worker (option `slurm`, or the `--slurm-*` flags). */
export interface Options {
  /** `--partition` (`--slurm-partition`): a partition, or several separated by commas. */
  readonly partition?: string | undefined
  /**
   * `--time` (`--slurm-time`): the array tasks' time limit, in Slurm's forms (`90`,
   * `1:30:00`, `2-00:00:00`, `UNLIMITED`) or as a duration (`90m`, `12h`, `2d`).
   */
  readonly time?: string | undefined
  /** `--cpus-per-task` (`--slurm-cpus-per-worker`). */
  readonly cpusPerWorker?: number | undefined
  /** `--mem` (`--slurm-mem-per-worker`): a size with a unit, e.g. `2GB`, `1536MiB`, `4G`. */
  readonly memoryPerWorker?: string | number | undefined
  /** More `sbatch` arguments, one word each, e.g. `["--account=proj", "--qos=high"]` (`--slurm-sbatch-arg`, repeated). */
  readonly sbatchArgs?: ReadonlyArray<string> | undefined
}

/** The options as sbatch arguments' values. */
export interface Resolved {
  readonly partition: string | undefined
  /** Slurm's own form. */
  readonly time: string | undefined
  readonly cpusPerWorker: number | undefined
  /** Whole mebibytes, as `--mem=<n>M` takes them. */
  readonly memoryMegabytes: number | undefined
  readonly sbatchArgs: ReadonlyArray<string>
}

export const none: Resolved = { partition: undefined, time: undefined, cpusPerWorker: undefined, memoryMegabytes: undefined, sbatchArgs: [] }

/** The CLI flag of each option, named in every error about it. */
export const flags = {
  partition: "--slurm-partition",
  time: "--slurm-time",
  cpusPerWorker: "--slurm-cpus-per-worker",
  memoryPerWorker: "--slurm-mem-per-worker",
  sbatchArgs: "--slurm-sbatch-arg"
} as const

const invalid = (option: keyof typeof flags, value: unknown, expected: string): never => {
  throw new ZephyrPlanError({
    reason: "invalid-option",
    message: `Invalid option slurm.${option} (${flags[option]}): ${JSON.stringify(value)}; expected ${expected}.`
  })
}

const partitionName = /^[A-Za-z0-9_.-]+(?:,[A-Za-z0-9_.-]+)*$/

/** Slurm's time forms: minutes, minutes:seconds, hours:minutes:seconds, days-hours[:minutes[:seconds]]. */
const slurmTime = /^(?:\d+(?::\d+){0,2}|\d+-\d+(?::\d+){0,2}|UNLIMITED|INFINITE)$/i
const durationWithUnit = /^(\d+(?:\.\d+)?)(s|m|h|d)$/
const secondsPerUnit: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 }

const pad = (n: number): string => String(n).padStart(2, "0")

/** `90m` → `0-01:30:00`; Slurm's own forms pass unchanged. */
export const time = (value: unknown): string => {
  if (typeof value !== "string") return invalid("time", value, 'a time limit such as "90" (minutes), "1:30:00", "2-00:00:00", "90m" or "12h"')
  const text = value.trim()
  // Slurm's own forms pass unchanged ("0" is no limit to Slurm, as UNLIMITED is).
  if (slurmTime.test(text)) return text
  const m = durationWithUnit.exec(text)
  if (!m) return invalid("time", value, 'a time limit such as "90" (minutes), "1:30:00", "2-00:00:00", "90m" or "12h"')
  const seconds = Math.ceil(Number(m[1]) * secondsPerUnit[m[2]!]!)
  if (seconds <= 0) return invalid("time", value, 'a time limit above zero (or "UNLIMITED")')
  const days = Math.floor(seconds / 86_400)
  return `${days}-${pad(Math.floor(seconds / 3_600) % 24)}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`
}

const sizeUnits: Record<string, number> = { k: 1024, kb: 1e3, kib: 1024, m: 1024 ** 2, mb: 1e6, mib: 1024 ** 2, g: 1024 ** 3, gb: 1e9, gib: 1024 ** 3, t: 1024 ** 4, tb: 1e12, tib: 1024 ** 4 }

/** A size with a unit (`2GB`, `1536MiB`, Slurm's `4G`) in whole mebibytes, rounded up. */
export const memoryMegabytes = (value: unknown): number => {
  const expected = 'a size with a unit, such as "2GB", "1536MiB" or "4G"'
  if (typeof value === "number") {
    return Number.isFinite(value) && value > 0 ? Math.ceil(value / 2 ** 20) : invalid("memoryPerWorker", value, "a positive number of bytes")
  }
  if (typeof value !== "string") return invalid("memoryPerWorker", value, expected)
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*$/.exec(value)
  const unit = sizeUnits[m?.[2]?.toLowerCase() ?? ""]
  if (!m || unit === undefined) return invalid("memoryPerWorker", value, expected)
  const megabytes = Math.ceil((Number(m[1]) * unit) / 2 ** 20)
  return megabytes > 0 ? megabytes : invalid("memoryPerWorker", value, "a size above zero")
}

/**
 * sbatch options the backend sets itself: with another value the array, its environment
 * (the coordinator's address and the token) or the job id it reads back would be wrong.
 */
const reservedLong = ["--array", "--export", "--export-file", "--parsable", "--wrap"]
const reservedShort = ["-a"]

const reserved = (word: string): string | undefined => {
  if (word.startsWith("--")) {
    const name = word.split("=")[0]!
    // getopt_long takes any unambiguous prefix of a long option (`--arr=0-3`).
    return name.length > 3 ? reservedLong.find((r) => r.startsWith(name)) : undefined
  }
  return reservedShort.find((r) => word.startsWith(r))
}

/** One sbatch word per item; a word that is not an option must be the value of the one before it. */
export const sbatchArgs = (value: unknown): ReadonlyArray<string> => {
  if (!Array.isArray(value)) return invalid("sbatchArgs", value, "a list of sbatch arguments, one word each")
  const words: Array<string> = []
  let valueMayFollow = false
  for (const word of value) {
    if (typeof word !== "string" || word.length === 0 || /[\0\n\r]/.test(word)) {
      return invalid("sbatchArgs", word, "a non-empty sbatch argument on one line")
    }
    const owned = reserved(word)
    if (owned) {
      return invalid("sbatchArgs", word, `another sbatch option: the slurm backend sets ${owned} itself (the array of workers, their environment with the coordinator's address and token, and the job id it reads back)`)
    }
    if (!word.startsWith("-")) {
      if (!valueMayFollow) {
        return invalid("sbatchArgs", word, 'an sbatch option such as "--account=proj" or "-A" followed by its value: sbatch would take a bare word for the batch script')
      }
      valueMayFollow = false
    } else {
      valueMayFollow = !word.includes("=") && !(word.length > 2 && !word.startsWith("--"))
    }
    words.push(word)
  }
  return words
}

const given = (options: Options): Array<keyof typeof flags> =>
  (Object.keys(flags) as Array<keyof typeof flags>).filter((k) => options[k] !== undefined)

/**
 * Checks the slurm options. `heapMegabytes` is a worker's V8 heap: a memory request below it
 * would have Slurm kill the worker the first time its heap fills.
 */
export const resolve = (options: Options | undefined, backend: string, heapMegabytes: number): Resolved => {
  if (options === undefined) return none
  if (typeof options !== "object" || options === null) {
    throw new ZephyrPlanError({ reason: "invalid-option", message: `Invalid option slurm: ${JSON.stringify(options)}; expected an object such as { partition: "batch", time: "2h" }.` })
  }
  const set = given(options)
  if (set.length === 0) return none
  if (backend !== "slurm") {
    const first = set[0]!
    throw new ZephyrPlanError({
      reason: "invalid-option",
      message: `Invalid option slurm.${first} (${flags[first]}): only the slurm backend uses it, and this run's backend is ${JSON.stringify(backend)}; add --backend slurm (option backend: "slurm") or drop it.`
    })
  }
  const partition = options.partition === undefined
    ? undefined
    : typeof options.partition === "string" && partitionName.test(options.partition) ? options.partition : invalid("partition", options.partition, "a partition name, or several separated by commas")
  const cpus = options.cpusPerWorker
  if (cpus !== undefined && (!Number.isInteger(cpus) || cpus < 1)) invalid("cpusPerWorker", cpus, "an integer >= 1")
  const memory = options.memoryPerWorker === undefined ? undefined : memoryMegabytes(options.memoryPerWorker)
  if (memory !== undefined && memory < heapMegabytes) {
    invalid("memoryPerWorker", options.memoryPerWorker, `at least a worker's V8 heap (${heapMegabytes} MiB: memoryBudget + 128 MiB) plus room for Node itself, e.g. "${Math.ceil((heapMegabytes + 256) / 256) * 256}MiB"; or a smaller --memory-budget`)
  }
  return {
    partition,
    time: options.time === undefined ? undefined : time(options.time),
    cpusPerWorker: cpus,
    memoryMegabytes: memory,
    sbatchArgs: options.sbatchArgs === undefined ? [] : sbatchArgs(options.sbatchArgs)
  }
}
