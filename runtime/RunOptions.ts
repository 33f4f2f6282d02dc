import * as os from "node:os"
import { Duration, type Layer } from "effect"
import { ZephyrPlanError } from "../plan/Errors.ts"
import * as Transport from "../rpc/Transport.ts"
import * as KubernetesOptions from "./launcher/KubernetesOptions.ts"
import * as SlurmOptions from "./launcher/SlurmOptions.ts"
import * as WorkerProcesses from "./launcher/WorkerProcesses.ts"
import * as MemoryBudget from "./MemoryBudget.ts"
import * as ChunkDir from "./storage/ChunkDir.ts"
import * as ExecutionDir from "./storage/ExecutionDir.ts"
import * as S3Options from "./storage/S3Options.ts"
import * as StoragePath from "./storage/StoragePath.ts"

/**
 * The defaults of every run option, in one place: `resolve` applies them, the coordinator's
 * scheduler starts from them and the CLI's help shows them.
 */
export const defaults = {
  /** Seconds between a worker's heartbeats. */
  heartbeatIntervalMs: 5_000,
  /** A worker silent this long is declared dead and its shards are re-queued. */
  heartbeatTimeoutMs: 120_000,
  /** User errors tolerated per shard: the shard fails the run on this many. */
  maxShardFailures: 3,
  /** Lost workers or crashes tolerated per shard. */
  maxShardInfraFailures: 20,
  /** Fail a stage after this long without an alive worker. */
  noWorkersTimeoutMs: 600_000,
  /** Pipeline retries (fresh coordinator and pool) after infrastructure failures. */
  maxExecutionRetries: 3,
  /** Restarts of a dead worker process under the same id (local processes, Slurm array tasks, Kubernetes pods). */
  maxWorkerRestarts: 3,
  /** A worker whose connection to the coordinator broke keeps dialling this long, then gives up. */
  reconnectTimeoutMs: 60_000,
  /** Per task: the shuffle spills past it; worker heaps are sized from it. */
  memoryBudgetBytes: MemoryBudget.defaultBytes,
  /** `--dashboard` without a port. */
  dashboardPort: 8686,
  /** Tasks one pull may hand out. */
  maxTasksPerPull: 1024,
  /** The longest an idle worker's pull is held at the coordinator (its holds double up to this). */
  idlePollMaxMs: 10_000,
  /** Backend "external": where the coordinator listens (this machine only, unless told otherwise). */
  listen: "127.0.0.1:7070",
  /** The largest message the coordinator accepts; a bigger one closes its connection. */
  maxMessageBytes: Transport.limits.maxFrameBytes,
  /** The fewest bytes `maxMessageSize` may be: a report's error message must fit. */
  minMessageBytes: 64 << 10,
  /** Connections the coordinator accepts at once (each worker holds one). */
  maxConnections: Transport.limits.maxConnections,
  /** Between two progress lines when stderr is not a terminal. */
  progressIntervalMs: 5_000,
  /** `zephyr gc` removes kept executions last used longer ago than this. */
  gcOlderThanMs: 7 * 86_400_000,
  /** Backend "kubernetes" (runtime/launcher/KubernetesOptions.ts). */
  kubernetes: {
    cpu: "1",
    memoryHeadroomMiB: 256,
    minMemoryHeadroomMiB: 64,
    command: ["npx", "--no", "--", "zephyr"],
    ttlSecondsAfterFinished: 600,
    /** How often the launcher lists the worker pods; slower for big pools, to spare the API server. */
    pollIntervalMs: 2_000,
    pollIntervalPerWorkerMs: 10
  }
} as const

/** The environment variable a worker (and the driver) takes the token from. */
export const TOKEN_ENV = "ZEPHYR_TOKEN"
/** The environment variable the dashboard's token comes from (when the option is not given). */
export const DASHBOARD_TOKEN_ENV = "ZEPHYR_DASHBOARD_TOKEN"

/** Options of `Zephyr.run`, `Zephyr.execute`, `Zephyr.runModule` and `zephyr run`. */
export interface RunOptions {
  /** Number of workers (default: the number of cores). */
  readonly workers?: number | undefined
  /**
   * "in-process" (workers as fibers), "local" (child processes), "external" (workers that
   * dial in), "slurm" (a Slurm job array), or a registered launcher's name.
   */
  readonly backend?: "in-process" | "local" | "external" | "slurm" | (string & {}) | undefined
  /**
   * Where stage outputs go (default: `$ZEPHYR_CHUNK_DIR`, else `<tmp>/zephyr-<uid>/chunks`,
   * private to the user). Required by the external, slurm and kubernetes backends.
   */
  readonly chunkDir?: string | undefined
  readonly heartbeatInterval?: Duration.DurationInput | string | undefined
  readonly heartbeatTimeout?: Duration.DurationInput | string | undefined
  readonly maxShardFailures?: number | undefined
  readonly maxShardInfraFailures?: number | undefined
  readonly noWorkersTimeout?: Duration.DurationInput | string | undefined
  readonly maxExecutionRetries?: number | undefined
  /** A worker process that dies is restarted under the same id this many times. */
  readonly maxWorkerRestarts?: number | undefined
  /**
   * A worker whose connection to the coordinator broke (a reset, the coordinator unreachable
   * for a while) dials again with backoff for this long, then re-registers under its id
   * (default 60s; 0: never).
   */
  readonly reconnectTimeout?: Duration.DurationInput | string | undefined
  /** Per task, e.g. "256MB": the shuffle spills to disk instead of growing past it. */
  readonly memoryBudget?: string | number | undefined
  readonly shared?: Readonly<Record<string, unknown>> | undefined
  readonly layer?: Layer.Layer<any, any, never> | undefined
  /** Compile and explain, run nothing. */
  readonly dryRun?: boolean | undefined
  /**
   * The run's id (default: a new one): letters, digits, `_` and `-`. When chunkDir holds an
   * execution of that id, the run resumes it.
   */
  readonly executionId?: string | undefined
  /**
   * Resume this execution (`--resume`): it must exist in chunkDir, else the run fails.
   * Completed stages whose plan, module source and input files are unchanged are skipped.
   */
  readonly resume?: string | undefined
  /**
   * Show progress on stderr: live lines per stage on a terminal, else a status line every
   * `progressInterval`; the run's summary is printed at its end (as an info log).
   */
  readonly progress?: boolean | undefined
  /** Between two status lines when stderr is not a terminal (default 5s). */
  readonly progressInterval?: Duration.DurationInput | string | undefined
  /** Serve a read-only dashboard on 127.0.0.1:PORT (0: any free port). */
  readonly dashboard?: number | undefined
  /**
   * The token every request to the dashboard must carry (default: $ZEPHYR_DASHBOARD_TOKEN;
   * without either, a random one, printed once on stderr in the dashboard's URL).
   */
  readonly dashboardToken?: string | undefined
  /**
   * backends "external" and "slurm": HOST:PORT the coordinator listens on for workers that
   * dial in (default 127.0.0.1:7070; port 0 takes any free one). An address off loopback
   * needs a `token`.
   */
  readonly listen?: string | undefined
  /**
   * backends "external" and "slurm": the secret workers must present (default:
   * $ZEPHYR_TOKEN; on loopback without either, a random one: external prints it once on
   * stderr, slurm hands it to its workers itself).
   */
  readonly token?: string | undefined
  /** backend "slurm": partition, time limit, CPUs and memory per worker, more sbatch arguments. */
  readonly slurm?: SlurmOptions.Options | undefined
  /** The largest message the coordinator accepts from a worker, e.g. "1MiB" (the default). */
  readonly maxMessageSize?: string | number | undefined
  /** Connections the coordinator accepts at once (default 1024). */
  readonly maxConnections?: number | undefined
  /** backend "kubernetes": the image, how pods reach the coordinator, resources (README "Running on a cluster"). */
  readonly kubernetes?: KubernetesOptions.KubernetesOptions | undefined
  /**
   * Object storage (`s3://` inputs, outputs and chunkDir): the endpoint of an S3-compatible
   * store, e.g. http://127.0.0.1:9000 (default $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL,
   * else AWS). Workers get the driver's endpoint, region and path style; never credentials.
   */
  readonly s3Endpoint?: string | undefined
  /** Default $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1. */
  readonly s3Region?: string | undefined
  /** Path-style requests (endpoint/bucket/key); default: on with a custom endpoint. */
  readonly s3ForcePathStyle?: boolean | undefined
}

export interface Resolved {
  readonly workers: number
  readonly backend: string
  readonly chunkDir: string
  readonly heartbeatIntervalMs: number
  readonly heartbeatTimeoutMs: number
  readonly maxShardFailures: number
  readonly maxShardInfraFailures: number
  readonly noWorkersTimeoutMs: number
  readonly maxExecutionRetries: number
  readonly maxWorkerRestarts: number
  readonly reconnectTimeoutMs: number
  readonly memoryBudgetBytes: number
  readonly shared: Readonly<Record<string, unknown>>
  readonly layer: Layer.Layer<any, any, never> | undefined
  readonly dryRun: boolean
  readonly executionId: string | undefined
  /** `executionId` must name an existing execution. */
  readonly resume: boolean
  readonly progress: boolean
  readonly progressIntervalMs: number
  readonly listen: string
  readonly token: string | undefined
  readonly maxMessageBytes: number
  readonly maxConnections: number
  readonly dashboard: number | undefined
  /** The dashboard's token when the user chose one (else the dashboard makes one up). */
  readonly dashboardToken: string | undefined
  /** Backend "kubernetes" only. */
  readonly kubernetes: KubernetesOptions.Resolved | undefined
  readonly slurm: SlurmOptions.Resolved
  readonly s3: S3Options.Settings
}

/** The `zephyr run` flag of each option that has one, named in every error about it (as SlurmOptions.flags). */
export const flags: Readonly<Record<string, string>> = {
  workers: "--workers",
  backend: "--backend",
  chunkDir: "--chunk-dir",
  heartbeatInterval: "--heartbeat-interval",
  heartbeatTimeout: "--heartbeat-timeout",
  noWorkersTimeout: "--no-workers-timeout",
  maxShardFailures: "--max-shard-failures",
  maxExecutionRetries: "--max-execution-retries",
  maxWorkerRestarts: "--max-worker-restarts",
  reconnectTimeout: "--reconnect-timeout",
  memoryBudget: "--memory-budget",
  resume: "--resume",
  executionId: "--execution-id",
  dashboard: "--dashboard",
  listen: "--listen",
  token: "--token",
  maxMessageSize: "--max-message-size",
  maxConnections: "--max-connections",
  progressInterval: "--progress-interval"
}

/** `option (--flag)`, or the option alone when no flag sets it (or it is a flag already). */
const named = (option: string): string => (Object.hasOwn(flags, option) ? `${option} (${flags[option]})` : option)

const bad = (option: string, value: unknown, expected: string): never => {
  throw new ZephyrPlanError({ reason: "invalid-option", message: `Invalid option ${named(option)}: ${JSON.stringify(value)}; expected ${expected}.` })
}

const positive = (option: string, value: Duration.DurationInput | string): number => {
  const ms = parseDuration(option, value)
  return ms > 0 ? ms : bad(option, value, "a positive duration")
}

const durationUnits: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** "500ms", "2s", "1m", "1h", "7d", a number of milliseconds, or an Effect Duration. */
export const parseDuration = (option: string, value: Duration.DurationInput | string): number => {
  if (typeof value === "string") {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value)
    if (!m) return bad(option, value, 'a duration such as "500ms", "2s" or "1m"')
    return Math.round(Number(m[1]) * durationUnits[m[2] ?? "ms"]!)
  }
  const d = Duration.decodeUnknown(value)
  if (d._tag === "None") return bad(option, value, "a duration")
  const ms = Duration.toMillis(d.value)
  if (!Number.isFinite(ms) || ms < 0) return bad(option, value, "a finite, non-negative duration")
  return ms
}

const units: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }

/** "256MB", "1GiB", "512k", or a number of bytes. */
export const parseSize = (option: string, value: string | number): number => {
  if (typeof value === "number") return value > 0 && Number.isFinite(value) ? value : bad(option, value, "a positive number of bytes")
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value)
  const unit = m ? (m[2] ?? "").toLowerCase() || "b" : ""
  if (!m || !(unit in units)) return bad(option, value, 'a size such as "256MB" or "1GiB"')
  return Math.round(Number(m[1]) * units[unit]!)
}

const messageSize = (value: string | number): number => {
  const bytes = parseSize("maxMessageSize", value)
  return bytes >= defaults.minMessageBytes && bytes < 2 ** 32 ? bytes : bad("maxMessageSize", value, `a size from ${defaults.minMessageBytes / 1024}KiB to 4GB`)
}

const count = (option: string, value: number | undefined, fallback: number, min: number): number => {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min) return bad(option, value, `an integer >= ${min}`)
  return value
}

/** Backends whose workers dial the coordinator from other machines. */
const dialledIn = (backend: string): boolean => backend === "external" || backend === "slurm"

/** A chosen dashboard token goes into a URL and a cookie as it is: URL-safe characters, long enough not to guess. */
const dashboardToken = (options: RunOptions): string | undefined => {
  const given = options.dashboardToken ?? (process.env[DASHBOARD_TOKEN_ENV] || undefined)
  if (given !== undefined && !/^[A-Za-z0-9._~-]{16,}$/.test(given)) {
    throw new ZephyrPlanError({
      reason: "invalid-option",
      message: `Invalid option dashboardToken (or $${DASHBOARD_TOKEN_ENV}): expected at least 16 letters, digits, '.', '_', '~' or '-' (it goes into the dashboard's URL and cookie); leave it unset for a random one.`
    })
  }
  return given
}

/**
 * Where the external and slurm backends listen, and with which token. Off loopback the token must
 * come from the user (`token`, `--token` or $ZEPHYR_TOKEN): they have to hand it to the
 * workers' machines anyway, through their own secret store, and a generated one would
 * travel through a terminal or a CI log instead.
 */
const listenAndToken = (options: RunOptions, backend: string): { readonly listen: string; readonly token: string | undefined } => {
  const listen = options.listen ?? defaults.listen
  if (!dialledIn(backend)) return { listen, token: undefined }
  const given = options.token ?? (process.env[TOKEN_ENV] || undefined)
  if (given !== undefined && (typeof given !== "string" || given.length === 0)) {
    // Never the value itself: it may be a secret.
    throw new ZephyrPlanError({ reason: "invalid-option", message: `Invalid option ${named("token")}: expected a non-empty string (or leave it and $${TOKEN_ENV} unset).` })
  }
  let host: string
  try {
    host = Transport.parseAddress(listen).host
  } catch {
    return bad("listen", listen, "HOST:PORT, e.g. 127.0.0.1:7070")
  }
  if (given === undefined && !Transport.isLoopback(host)) {
    throw new ZephyrPlanError({
      reason: "invalid-option",
      message: `Invalid option ${named("listen")}: ${JSON.stringify(listen)} is reachable from other machines, so the coordinator needs a token its workers must present: set $${TOKEN_ENV} (or pass --token / the token option) on the driver and on every worker.`
    })
  }
  return { listen, token: given }
}

/** An execution id names a directory right under the chunk directory, and nothing else. */
const executionIdOption = (option: string, id: unknown, chunkDir: string): void => {
  if (typeof id !== "string" || !ExecutionDir.isValidId(id) || !ExecutionDir.isInside(chunkDir, id)) {
    const shown = typeof id === "string" && id.length > 60 ? `${JSON.stringify(id.slice(0, 60))}... (${id.length} characters)` : JSON.stringify(id)
    throw new ZephyrPlanError({
      reason: "invalid-option",
      message: `Invalid option ${named(option)}: ${shown}; expected an execution id of 1 to 128 letters, digits, '_' or '-' (as printed when a run starts), which names a directory right inside the chunk directory ${chunkDir}.`
    })
  }
}

export const resolve = (options: RunOptions, defaultBackend: string): Resolved => {
  const heartbeatIntervalMs = options.heartbeatInterval === undefined ? defaults.heartbeatIntervalMs : parseDuration("heartbeatInterval", options.heartbeatInterval)
  const heartbeatTimeoutMs = options.heartbeatTimeout === undefined ? defaults.heartbeatTimeoutMs : parseDuration("heartbeatTimeout", options.heartbeatTimeout)
  if (heartbeatIntervalMs <= 0) bad("heartbeatInterval", options.heartbeatInterval, "a positive duration")
  if (heartbeatTimeoutMs <= heartbeatIntervalMs) bad("heartbeatTimeout", options.heartbeatTimeout, `a duration longer than heartbeatInterval (${heartbeatIntervalMs} ms)`)
  const backend = options.backend ?? defaultBackend
  if (typeof backend !== "string" || backend.length === 0) bad("backend", backend, '"in-process" or "local"')
  const chunkDir = options.chunkDir ? StoragePath.resolve(options.chunkDir) : ChunkDir.defaultPath()
  if (StoragePath.isS3(chunkDir)) StoragePath.parse(chunkDir, options.chunkDir ? "--chunk-dir / option chunkDir" : "$ZEPHYR_CHUNK_DIR")
  if (dialledIn(backend) && !options.chunkDir && !process.env.ZEPHYR_CHUNK_DIR) {
    throw new ZephyrPlanError({
      reason: "invalid-option",
      message: `The ${backend} backend needs --chunk-dir (option chunkDir): a directory that the driver and every worker reach at the same path (a network file system), or object storage (s3://bucket/prefix); a temp dir on this machine is invisible to workers elsewhere.`
    })
  }
  if (options.kubernetes !== undefined && backend !== "kubernetes") {
    throw new ZephyrPlanError({ reason: "invalid-option", message: `Kubernetes options (kubernetes, --k8s-*) were given for backend ${JSON.stringify(backend)}: add --backend kubernetes (backend: "kubernetes"), or leave them out.` })
  }
  if (options.executionId !== undefined) executionIdOption("executionId", options.executionId, chunkDir)
  if (options.resume !== undefined) executionIdOption("resume", options.resume, chunkDir)
  if (options.resume !== undefined && options.executionId !== undefined && options.resume !== options.executionId) {
    bad("executionId", options.executionId, `the same id as resume (${JSON.stringify(options.resume)}), or nothing`)
  }
  const memoryBudgetBytes = options.memoryBudget === undefined ? defaults.memoryBudgetBytes : parseSize("memoryBudget", options.memoryBudget)
  return {
    workers: count("workers", options.workers, os.availableParallelism?.() ?? os.cpus().length, 1),
    backend,
    chunkDir,
    heartbeatIntervalMs,
    heartbeatTimeoutMs,
    maxShardFailures: count("maxShardFailures", options.maxShardFailures, defaults.maxShardFailures, 1),
    maxShardInfraFailures: count("maxShardInfraFailures", options.maxShardInfraFailures, defaults.maxShardInfraFailures, 1),
    noWorkersTimeoutMs: options.noWorkersTimeout === undefined ? defaults.noWorkersTimeoutMs : parseDuration("noWorkersTimeout", options.noWorkersTimeout),
    maxExecutionRetries: count("maxExecutionRetries", options.maxExecutionRetries, defaults.maxExecutionRetries, 0),
    maxWorkerRestarts: count("maxWorkerRestarts", options.maxWorkerRestarts, defaults.maxWorkerRestarts, 0),
    reconnectTimeoutMs: options.reconnectTimeout === undefined ? defaults.reconnectTimeoutMs : parseDuration("reconnectTimeout", options.reconnectTimeout),
    memoryBudgetBytes,
    shared: options.shared ?? {},
    layer: options.layer,
    dryRun: options.dryRun === true,
    executionId: options.resume ?? options.executionId,
    resume: options.resume !== undefined,
    progress: options.progress === true,
    progressIntervalMs: options.progressInterval === undefined ? defaults.progressIntervalMs : positive("progressInterval", options.progressInterval),
    ...listenAndToken(options, backend),
    maxMessageBytes: options.maxMessageSize === undefined ? defaults.maxMessageBytes : messageSize(options.maxMessageSize),
    maxConnections: count("maxConnections", options.maxConnections, defaults.maxConnections, 1),
    dashboard: options.dashboard === undefined ? undefined : count("dashboard", options.dashboard, 0, 0),
    dashboardToken: options.dashboard === undefined ? undefined : dashboardToken(options),
    kubernetes: backend === "kubernetes"
      ? KubernetesOptions.resolve(options.kubernetes, {
        listen: options.listen ?? defaults.listen,
        chunkDirGiven: Boolean(options.chunkDir || process.env.ZEPHYR_CHUNK_DIR),
        memoryBudgetBytes: options.memoryBudget === undefined ? defaults.memoryBudgetBytes : parseSize("memoryBudget", options.memoryBudget),
        cwd: process.cwd(),
        defaults: defaults.kubernetes
      })
      : undefined,
    slurm: SlurmOptions.resolve(options.slurm, backend, WorkerProcesses.heapMegabytes(memoryBudgetBytes)),
    s3: S3Options.resolve({ endpoint: options.s3Endpoint, region: options.s3Region, forcePathStyle: options.s3ForcePathStyle })
  }
}
