import { Command, Options } from "@effect/cli"
import { Effect, LogLevel, Option } from "effect"
import { ZephyrPlanError } from "../plan/Errors.ts"
import * as Pipeline from "../Pipeline.ts"
import { DASHBOARD_TOKEN_ENV, defaults, type RunOptions, TOKEN_ENV } from "../runtime/RunOptions.ts"
import * as WorkerProcesses from "../runtime/launcher/WorkerProcesses.ts"
import * as Zephyr from "../Zephyr.ts"
import * as CheckCommand from "./CheckCommand.ts"
import * as CommonOptions from "./CommonOptions.ts"
import * as OptionValues from "./OptionValues.ts"
import * as KubernetesFlags from "./KubernetesFlags.ts"
import * as Logging from "../runtime/StderrLogger.ts"

const optionalText = (name: string, description: string) =>
  OptionValues.text(["run"], name).pipe(Options.optional, Options.map(Option.getOrUndefined), Options.withDescription(description))
const optionalInt = (name: string, description: string) =>
  OptionValues.integer("run", name).pipe(Options.optional, Options.map(Option.getOrUndefined), Options.withDescription(description))

const seconds = (ms: number): string => `${ms / 1000}s`

/** What each backend is, for `--backend`'s help; a launcher registered later shows by its name. */
const backendHelp: Record<string, string> = {
  local: "worker processes on this machine (the default)",
  "in-process": "workers as fibers of this process",
  external: "workers you start anywhere with `zephyr worker`, which dial in (needs --chunk-dir; see --listen)",
  slurm: "a Slurm job array of `zephyr worker` processes, which dial in (see the --slurm-* options)",
  kubernetes: "the pods of an Indexed Job in a Kubernetes cluster, which dial in"
}
const backends = Zephyr.backendNames().map((name) => `${name}: ${backendHelp[name] ?? "a registered launcher"}`).join("; ")

const options = {
  module: CommonOptions.module,
  export: CommonOptions.exportName,
  args: CommonOptions.args,
  workers: optionalInt("workers", "number of workers (default: number of cores)"),
  backend: optionalText("backend", `where workers run: ${backends}`),
  chunkDir: optionalText("chunk-dir", "where stage outputs go (default: $ZEPHYR_CHUNK_DIR, else <tmp>/zephyr-<uid>/chunks, private to you; required by --backend external, slurm and kubernetes)"),
  heartbeatInterval: optionalText("heartbeat-interval", `e.g. 2s (default ${seconds(defaults.heartbeatIntervalMs)})`),
  heartbeatTimeout: optionalText("heartbeat-timeout", `declare a silent worker dead after this long (default ${seconds(defaults.heartbeatTimeoutMs)})`),
  noWorkersTimeout: optionalText("no-workers-timeout", `fail a stage after this long without an alive worker (default ${seconds(defaults.noWorkersTimeoutMs)})`),
  maxShardFailures: optionalInt("max-shard-failures", `user errors tolerated per shard (default ${defaults.maxShardFailures})`),
  maxExecutionRetries: optionalInt("max-execution-retries", `pipeline retries after infrastructure failures (default ${defaults.maxExecutionRetries})`),
  maxWorkerRestarts: optionalInt("max-worker-restarts", `restarts of a dead worker process under its id: local processes, Slurm array tasks, Kubernetes pods (default ${defaults.maxWorkerRestarts})`),
  reconnectTimeout: optionalText("reconnect-timeout", `a worker whose connection broke dials again this long, then re-registers under its id (default ${seconds(defaults.reconnectTimeoutMs)}; 0: never)`),
  memoryBudget: optionalText("memory-budget", `per task, e.g. 512MB: the shuffle spills past it (default ${defaults.memoryBudgetBytes / 1024 ** 2}MiB)`),
  resume: optionalText("resume", "resume the execution with this id (printed when a run starts or fails): its unchanged completed stages are skipped"),
  executionId: optionalText("execution-id", "name a new run (letters, digits, _ and -); an existing execution of that id is resumed"),
  dashboard: optionalInt("dashboard", `serve a live, read-only dashboard and Prometheus /metrics on 127.0.0.1 (--dashboard or --dashboard=PORT; 0: any free port; default ${defaults.dashboardPort}); requests need its token: $${DASHBOARD_TOKEN_ENV}, else a random one printed in its URL`),
  listen: optionalText("listen", `backends external and slurm: HOST:PORT to accept workers on (default ${defaults.listen}); an address off loopback needs a token`),
  token: optionalText("token", `backends external and slurm: the token workers must present (default: $${TOKEN_ENV}, which is better: arguments show in ps)`),
  slurmPartition: optionalText("slurm-partition", "backend slurm: the partition(s) the workers run in (sbatch --partition)"),
  slurmTime: optionalText("slurm-time", "backend slurm: the workers' time limit, e.g. 12h, 90m or 1-00:00:00 (sbatch --time)"),
  slurmCpusPerWorker: optionalInt("slurm-cpus-per-worker", "backend slurm: CPUs per worker (sbatch --cpus-per-task)"),
  slurmMemPerWorker: optionalText("slurm-mem-per-worker", "backend slurm: memory per worker, e.g. 2GB (sbatch --mem; at least the worker's heap, memory budget + 128MiB)"),
  slurmSbatchArgs: Options.text("slurm-sbatch-arg").pipe(Options.repeated, Options.withDescription("backend slurm: one more sbatch argument, e.g. --slurm-sbatch-arg=--account=proj (repeatable)")),
  maxMessageSize: optionalText("max-message-size", `the largest message the coordinator accepts from a worker (default ${defaults.maxMessageBytes / 1024 ** 2}MiB)`),
  maxConnections: optionalInt("max-connections", `connections the coordinator accepts at once (default ${defaults.maxConnections})`),
  s3Endpoint: optionalText("s3-endpoint", "object storage (s3:// paths): the endpoint of an S3-compatible store, e.g. http://127.0.0.1:9000 (default: $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL, else AWS)"),
  s3Region: optionalText("s3-region", "object storage: the region (default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1)"),
  s3ForcePathStyle: OptionValues.boolean(["run"], "s3-force-path-style").pipe(
    Options.withDescription("object storage: path-style requests (endpoint/bucket/key), the default with a custom endpoint")
  ),
  s3VirtualHostedStyle: OptionValues.boolean(["run"], "s3-virtual-hosted-style").pipe(
    Options.withDescription("object storage: virtual-hosted-style requests (bucket.endpoint/key), the default on AWS")
  ),
  printResults: OptionValues.boolean(["run"], "print-results").pipe(Options.withDescription("write each result as one JSON line on stdout")),
  noProgress: OptionValues.boolean(["run"], "no-progress").pipe(Options.withDescription("no live progress (on a terminal) nor status lines on stderr; the summary at the end stays (--log-level warning hides it)")),
  progressInterval: optionalText("progress-interval", `between two status lines when stderr is not a terminal (default ${seconds(defaults.progressIntervalMs)})`),
  dryRun: OptionValues.boolean(["run"], "dry-run").pipe(Options.withDescription("print the plan and run nothing")),
  noCheck: CheckCommand.noCheck,
  ...KubernetesFlags.options
}

/** The options given on the command line (absent flags leave the library's defaults). */
const defined = <T extends Record<string, unknown>>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T

const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v)) ?? "null"

/** An sbatch argument as `zephyr`'s command line hands it to @effect/cli: a JSON string, never taken for an option. */
export const quoteSbatchArg = (word: string): string => JSON.stringify(word)

const unquoteSbatchArg = (value: string): string => {
  if (!value.startsWith('"')) return value
  try {
    const word: unknown = JSON.parse(value)
    return typeof word === "string" ? word : value
  } catch {
    return value
  }
}

const slurmOptions = (o: { readonly slurmPartition?: string | undefined; readonly slurmTime?: string | undefined; readonly slurmCpusPerWorker?: number | undefined; readonly slurmMemPerWorker?: string | undefined; readonly slurmSbatchArgs: ReadonlyArray<string> }): RunOptions["slurm"] => {
  const slurm = defined({
    partition: o.slurmPartition,
    time: o.slurmTime,
    cpusPerWorker: o.slurmCpusPerWorker,
    memoryPerWorker: o.slurmMemPerWorker,
    sbatchArgs: o.slurmSbatchArgs.length > 0 ? o.slurmSbatchArgs.map(unquoteSbatchArg) : undefined
  })
  return Object.keys(slurm).length > 0 ? slurm : undefined
}

/** `zephyr run <module>`: results as JSON lines on stdout (with --print-results), everything else on stderr. */
export const command = Command.make("run", options, (o) =>
  Effect.gen(function* () {
    if (o.s3ForcePathStyle && o.s3VirtualHostedStyle) {
      return yield* Effect.fail(new ZephyrPlanError({ reason: "invalid-option", message: "Pass --s3-force-path-style or --s3-virtual-hosted-style, not both." }))
    }
    if (!o.dryRun) Zephyr.prestartWorkers(o.module, defined({ backend: o.backend ?? "local", workers: o.workers, memoryBudget: o.memoryBudget }))
    const checks = CheckCommand.start(o.module, o.noCheck)
    const loaded = yield* Effect.tryPromise({ try: () => Pipeline.load(o.module, { export: o.export, args: o.args }), catch: (e) => e })
    const compiled = yield* Effect.try({ try: () => Zephyr.compile(loaded.dataset, { module: loaded.module }), catch: (e) => e })
    // Before any worker registers: an error refuses the run and stops the processes started ahead.
    yield* CheckCommand.finish(checks, o.module, compiled, true)
    const plan = yield* CheckCommand.withAnalysis(checks, compiled)
    if (o.dryRun) {
      process.stdout.write(plan.explain("text"))
      return
    }
    const runOptions: RunOptions = defined({
      backend: o.backend ?? "local",
      workers: o.workers,
      chunkDir: o.chunkDir,
      heartbeatInterval: o.heartbeatInterval,
      heartbeatTimeout: o.heartbeatTimeout,
      noWorkersTimeout: o.noWorkersTimeout,
      maxShardFailures: o.maxShardFailures,
      maxExecutionRetries: o.maxExecutionRetries,
      maxWorkerRestarts: o.maxWorkerRestarts,
      reconnectTimeout: o.reconnectTimeout,
      memoryBudget: o.memoryBudget,
      executionId: o.executionId,
      resume: o.resume,
      dashboard: o.dashboard,
      listen: o.listen,
      token: o.token,
      maxMessageSize: o.maxMessageSize,
      maxConnections: o.maxConnections,
      kubernetes: KubernetesFlags.toRunOption(o),
      slurm: slurmOptions(o),
      s3Endpoint: o.s3Endpoint,
      s3Region: o.s3Region,
      // Neither flag: path style with a custom endpoint, virtual-hosted style on AWS.
      s3ForcePathStyle: o.s3ForcePathStyle ? true : o.s3VirtualHostedStyle ? false : undefined,
      // worker processes build the module's layer themselves; in-process workers get it here
      layer: o.backend === "in-process" ? loaded.layer : undefined,
      progress: !o.noProgress,
      progressInterval: o.progressInterval
    })
    const result = yield* Zephyr.execute(plan as Zephyr.CompiledPlanOf<unknown>, runOptions).pipe(
      Logging.withStderr(Logging.levelFromEnv(LogLevel.Info))
    )
    if (o.printResults) {
      const out = result.results.map((r) => json(r) + "\n").join("")
      yield* Effect.promise(() => new Promise<void>((resolve) => process.stdout.write(out, () => resolve())))
    }
  }).pipe(Effect.ensuring(Effect.sync(() => WorkerProcesses.releasePrestarted())))
).pipe(Command.withDescription("Run a pipeline module on worker processes"))
