import { Command, Options } from "@effect/cli"
import { Effect, LogLevel, Option } from "effect"
import { ZephyrPlanError } from "../compiler/plan/Errors.ts"
import * as Pipeline from "../Pipeline.ts"
import { defaults, type RunOptions, TOKEN_ENV } from "../runtime/RunOptions.ts"
import * as WorkerProcesses from "../runtime/launcher/WorkerProcesses.ts"
import * as Zephyr from "../Zephyr.ts"
import * as CheckCommand from "./CheckCommand.ts"
import * as CommonOptions from "./CommonOptions.ts"
import * as Logging from "../runtime/StderrLogger.ts"

const optionalText = (name: string, description: string) =>
  Options.text(name).pipe(Options.optional, Options.map(Option.getOrUndefined), Options.withDescription(description))
const optionalInt = (name: string, description: string) =>
  Options.integer(name).pipe(Options.optional, Options.map(Option.getOrUndefined), Options.withDescription(description))

const seconds = (ms: number): string => `${ms / 1000}s`

const options = {
  module: CommonOptions.module,
  export: CommonOptions.exportName,
  args: CommonOptions.args,
  workers: optionalInt("workers", "number of workers (default: number of cores)"),
  backend: optionalText("backend", "local (worker processes, default) or in-process"),
  chunkDir: optionalText("chunk-dir", "where stage outputs go (default: $ZEPHYR_CHUNK_DIR, else <tmp>/zephyr-<uid>/chunks, private to you; required by --backend external)"),
  heartbeatInterval: optionalText("heartbeat-interval", `e.g. 2s (default ${seconds(defaults.heartbeatIntervalMs)})`),
  heartbeatTimeout: optionalText("heartbeat-timeout", `declare a silent worker dead after this long (default ${seconds(defaults.heartbeatTimeoutMs)})`),
  noWorkersTimeout: optionalText("no-workers-timeout", `fail a stage after this long without an alive worker (default ${seconds(defaults.noWorkersTimeoutMs)})`),
  maxShardFailures: optionalInt("max-shard-failures", `user errors tolerated per shard (default ${defaults.maxShardFailures})`),
  maxExecutionRetries: optionalInt("max-execution-retries", `pipeline retries after infrastructure failures (default ${defaults.maxExecutionRetries})`),
  maxWorkerRestarts: optionalInt("max-worker-restarts", `restarts of a dead worker process (default ${defaults.maxWorkerRestarts})`),
  memoryBudget: optionalText("memory-budget", `per task, e.g. 512MB: the shuffle spills past it (default ${defaults.memoryBudgetBytes / 1024 ** 2}MiB)`),
  resume: optionalText("resume", "resume the execution with this id (printed when a run starts or fails): its unchanged completed stages are skipped"),
  executionId: optionalText("execution-id", "name a new run (letters, digits, _ and -); an existing execution of that id is resumed"),
  dashboard: optionalInt("dashboard", `serve a read-only dashboard on 127.0.0.1 (--dashboard or --dashboard=PORT; default port ${defaults.dashboardPort})`),
  listen: optionalText("listen", `backend external: HOST:PORT to accept workers on (default ${defaults.listen}); an address off loopback needs a token`),
  token: optionalText("token", `backend external: the token workers must present (default: $${TOKEN_ENV}, which is better: arguments show in ps)`),
  maxMessageSize: optionalText("max-message-size", `the largest message the coordinator accepts from a worker (default ${defaults.maxMessageBytes / 1024 ** 2}MiB)`),
  maxConnections: optionalInt("max-connections", `connections the coordinator accepts at once (default ${defaults.maxConnections})`),
  s3Endpoint: optionalText("s3-endpoint", "object storage (s3:// paths): the endpoint of an S3-compatible store, e.g. http://127.0.0.1:9000 (default: $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL, else AWS)"),
  s3Region: optionalText("s3-region", "object storage: the region (default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1)"),
  s3ForcePathStyle: Options.boolean("s3-force-path-style").pipe(
    Options.withDescription("object storage: path-style requests (endpoint/bucket/key), the default with a custom endpoint")
  ),
  s3VirtualHostedStyle: Options.boolean("s3-virtual-hosted-style").pipe(
    Options.withDescription("object storage: virtual-hosted-style requests (bucket.endpoint/key), the default on AWS")
  ),
  printResults: Options.boolean("print-results").pipe(Options.withDescription("write each result as one JSON line on stdout")),
  noProgress: Options.boolean("no-progress").pipe(Options.withDescription("no progress lines on stderr")),
  dryRun: Options.boolean("dry-run").pipe(Options.withDescription("print the plan and run nothing")),
  noCheck: CheckCommand.noCheck
}

/** The options given on the command line (absent flags leave the library's defaults). */
const defined = <T extends Record<string, unknown>>(o: T): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T

const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v)) ?? "null"

/** `zephyr run <module>`: results as JSON lines on stdout (with --print-results), everything else on stderr. */
export const command = Command.make("run", options, (o) =>
  Effect.gen(function* () {
    if (o.s3ForcePathStyle && o.s3VirtualHostedStyle) {
      return yield* Effect.fail(new ZephyrPlanError({ reason: "invalid-option", message: "Pass --s3-force-path-style or --s3-virtual-hosted-style, not both." }))
    }
    if (!o.dryRun) Zephyr.prestartWorkers(o.module, defined({ backend: o.backend ?? "local", workers: o.workers, memoryBudget: o.memoryBudget }))
    const checks = CheckCommand.start(o.module, o.noCheck)
    const loaded = yield* Effect.tryPromise({ try: () => Pipeline.load(o.module, { export: o.export, args: o.args }), catch: (e) => e })
    const plan = yield* Effect.try({ try: () => Zephyr.compile(loaded.dataset, { module: loaded.module }), catch: (e) => e })
    // Before any worker registers: an error refuses the run and stops the processes started ahead.
    yield* CheckCommand.finish(checks, o.module, plan, true)
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
      memoryBudget: o.memoryBudget,
      executionId: o.executionId,
      resume: o.resume,
      dashboard: o.dashboard,
      listen: o.listen,
      token: o.token,
      maxMessageSize: o.maxMessageSize,
      maxConnections: o.maxConnections,
      s3Endpoint: o.s3Endpoint,
      s3Region: o.s3Region,
      // Neither flag: path style with a custom endpoint, virtual-hosted style on AWS.
      s3ForcePathStyle: o.s3ForcePathStyle ? true : o.s3VirtualHostedStyle ? false : undefined,
      // worker processes build the module's layer themselves; in-process workers get it here
      layer: o.backend === "in-process" ? loaded.layer : undefined,
      progress: !o.noProgress
    })
    const result = yield* Zephyr.execute(plan as Zephyr.CompiledPlanOf<unknown>, runOptions).pipe(
      Logging.withStderr(Logging.levelFromEnv(o.noProgress ? LogLevel.Warning : LogLevel.Info))
    )
    if (o.printResults) {
      const out = result.results.map((r) => json(r) + "\n").join("")
      yield* Effect.promise(() => new Promise<void>((resolve) => process.stdout.write(out, () => resolve())))
    }
  }).pipe(Effect.ensuring(Effect.sync(() => WorkerProcesses.releasePrestarted())))
).pipe(Command.withDescription("Run a pipeline module on worker processes"))
