import * as fs from "node:fs"
import { Cause, Effect, Exit, type Layer, LogLevel } from "effect"
import * as Check from "./compiler/analysis/Check.ts"
import * as Diagnostic from "./compiler/analysis/Diagnostic.ts"
import { CompiledPlan, compile as compileDataset } from "./compiler/Compiler.ts"
import * as ModuleLoader from "./compiler/ModuleLoader.ts"
import { type ZephyrError, ZephyrPlanError } from "./plan/Errors.ts"
import type { ModuleRef } from "./plan/ModuleRef.ts"
import type { Dataset } from "./dsl/Dataset.ts"
import * as Execution from "./runtime/Execution.ts"
import * as FileGlob from "./runtime/FileGlob.ts"
import * as External from "./runtime/launcher/External.ts"
import * as InProcess from "./runtime/launcher/InProcess.ts"
import * as Kubernetes from "./runtime/launcher/Kubernetes.ts"
import type { Launcher } from "./runtime/launcher/Launcher.ts"
import * as LocalProcesses from "./runtime/launcher/LocalProcesses.ts"
import * as Slurm from "./runtime/launcher/Slurm.ts"
import * as WorkerProcesses from "./runtime/launcher/WorkerProcesses.ts"
import * as RunOptionsModule from "./runtime/RunOptions.ts"
import * as RunSummaryModule from "./runtime/RunSummary.ts"
import * as StderrLogger from "./runtime/StderrLogger.ts"
import * as ObjectStore from "./runtime/storage/ObjectStore.ts"

export type RunOptions = RunOptionsModule.RunOptions
export type CompiledPlanOf<A> = CompiledPlan<A, unknown, never>
export type RunSummary = RunSummaryModule.RunSummary
export type StageSummary = RunSummaryModule.StageSummary

/**
 * What a run gives back: results flattened in shard order, then in order within a shard;
 * the counters of every stage; and the summary (per stage: wall time, records and bytes in
 * and out, its own counters in `summary.stages[i].counters`, retries and their causes; the
 * files written).
 */
export interface RunResult<A> {
  readonly results: Array<A>
  readonly counters: Record<string, number>
  readonly executionId: string
  readonly summary: RunSummaryModule.RunSummary
}

export interface CompileOptions {
  readonly module?: ModuleRef | undefined
}

/** Compiles a dataset into its plan without running anything. */
export const compile = <A, E, R>(dataset: Dataset<A, E, R> | CompiledPlan<A, E, R>, options: CompileOptions = {}): CompiledPlan<A, E, R> =>
  CompiledPlan.isCompiledPlan(dataset)
    ? (dataset as CompiledPlan<A, E, R>)
    : compileDataset(dataset as Dataset<A, E, R>, { countSource: FileGlob.countSourceShards, module: options.module ?? moduleOf(dataset) })

// Datasets built by loading a module remember it, so worker processes can rebuild them.
const modules = new WeakMap<object, ModuleRef>()
const moduleOf = (dataset: object): ModuleRef | undefined => modules.get(dataset)

const launchers: Record<string, Launcher> = {
  "in-process": InProcess.launcher,
  local: LocalProcesses.launcher
}

/** Every backend a run may name: the launchers registered, and those made from run options. */
export const backendNames = (): ReadonlyArray<string> => [...Object.keys(launchers), "external", "slurm", "kubernetes"]

/** Registers a launcher under a backend name (cluster launchers plug in here). */
export const registerLauncher = (launcher: Launcher): void => { launchers[launcher.name] = launcher }

const launcherFor = (backend: string, options: RunOptionsModule.Resolved): Launcher => {
  if (backend === "external") return External.make({ listen: options.listen, token: options.token, maxConnections: options.maxConnections })
  if (backend === "kubernetes" && options.kubernetes) return Kubernetes.make(options.kubernetes, { maxConnections: options.maxConnections })
  if (backend === "slurm") return Slurm.make({ listen: options.listen, token: options.token, maxConnections: options.maxConnections, slurm: options.slurm })
  const l = launchers[backend]
  if (!l) throw new ZephyrPlanError({ reason: "unknown-backend", message: `Unknown backend ${JSON.stringify(backend)}: use one of ${backendNames().map((n) => JSON.stringify(n)).join(", ")}.` })
  return l
}

/**
 * Runs a dataset (or a compiled plan) as an Effect with typed errors. Services its
 * Effects need come from `layer` (built once per worker) or from the caller's context
 * (in-process workers run inside it).
 */
export const execute = <A, E, R, ROut = never>(
  dataset: Dataset<A, E, R> | CompiledPlan<A, E, R>,
  options: RunOptions & { readonly layer?: Layer.Layer<ROut, any, never> | undefined } = {}
): Effect.Effect<RunResult<A>, ZephyrError, Exclude<R, ROut>> =>
  Effect.gen(function* () {
    const plan = yield* Effect.try({ try: () => compile(dataset), catch: (e) => asZephyrError(e) })
    // In-process unless asked otherwise (runModule and the CLI ask for local worker processes).
    const resolved = yield* Effect.try({ try: () => RunOptionsModule.resolve(options, "in-process"), catch: (e) => asZephyrError(e) })
    // How this process reaches object storage (workers get the same settings in their job spec).
    ObjectStore.configure(resolved.s3)
    if (resolved.dryRun) {
      yield* Effect.logInfo(`dry run: nothing executed\n${plan.explain("text")}`)
      return { results: [], counters: {}, executionId: "", summary: RunSummaryModule.empty("") }
    }
    const launcher = yield* Effect.try({ try: () => launcherFor(resolved.backend, resolved), catch: (e) => asZephyrError(e) })
    return yield* Execution.execute<A>(plan, resolved, launcher)
  }) as Effect.Effect<RunResult<A>, ZephyrError, Exclude<R, ROut>>

// A layer is required exactly when the dataset's Effects need services (R is known and not never).
type LayerArg<R> = [R] extends [never]
  ? [options?: RunOptions]
  : unknown extends R ? [options?: RunOptions]
  : [options: RunOptions & { readonly layer: Layer.Layer<R, any, never> }]

/** Runs a dataset (or a compiled plan); rejects with the ZephyrWorkerError of a failed run. */
export const run = <A, E, R>(dataset: Dataset<A, E, R> | CompiledPlan<A, E, R>, ...[options]: LayerArg<R>): Promise<RunResult<A>> =>
  toPromise(execute(dataset as Dataset<A, E, never>, (options ?? {}) as RunOptions), options?.progress === true)

/**
 * Loads a pipeline module (default export, or `export`) and runs it, on worker processes by
 * default. With `check: true` the module's static checks run first, as `zephyr run`'s do,
 * and an error-level diagnostic rejects the run before any worker registers; readers then
 * read only the fields the functions after them read (see ReadColumns), and combiners that only
 * sum add in place (CombineSums), as in `zephyr run`.
 */
export const runModule = async <A = unknown>(
  modulePath: string,
  options: RunOptions & {
    readonly export?: string | undefined
    readonly args?: Readonly<Record<string, string>> | undefined
    readonly check?: boolean | undefined
  } = {}
): Promise<RunResult<A>> => {
  const { export: name, args, check: checkFirst, ...rest } = options
  const backend = rest.backend ?? "local"
  prestartWorkers(modulePath, { ...rest, backend })
  const checks = checkFirst ? Check.start([ModuleLoader.resolvePath(modulePath)]) : undefined
  try {
    const loaded = await ModuleLoader.load(modulePath, { export: name, args })
    let plan = compile(loaded.dataset, { module: loaded.module })
    if (checks) {
      const diagnostics = await checks.diagnostics(plan.plan)
      if (Diagnostic.hasErrors(diagnostics)) throw Check.failure(modulePath, diagnostics, { refusedRun: true, detail: true, skip: "check: false" })
      // The same analysis says which fields the readers need (see ReadColumns) and which combiners only sum (CombineSums).
      plan = plan.withRefinements(await checks.refinements(plan.plan, plan.module))
    }
    // Worker processes build the module's own `layer` export; in-process workers get it here.
    const layer = rest.layer ?? (backend === "in-process" ? loaded.layer : undefined)
    return await toPromise(execute(plan as CompiledPlan<A, unknown, never>, { ...rest, backend, ...(layer ? { layer } : {}) }), rest.progress === true)
  } finally {
    checks?.cancel()
    WorkerProcesses.releasePrestarted()
  }
}

export interface CheckOptions {
  readonly export?: string | undefined
  readonly args?: Readonly<Record<string, string>> | undefined
}

/**
 * The static checks (compiler/analysis/) of a pipeline module, a dataset or a compiled
 * plan, as data: each diagnostic has a code, a severity, a message, a file, line and
 * column, a hint, and the id of the plan op it concerns. A module is loaded and compiled
 * first, so that findings name its ops; a module that cannot even be loaded is still
 * checked, and the load's error is thrown only when the checks found no error to explain it.
 */
export const check = async (
  target: string | Dataset<any, any, any> | CompiledPlan<any, any, any>,
  options: CheckOptions = {}
): Promise<ReadonlyArray<Diagnostic.Diagnostic>> => {
  if (typeof target !== "string") return Check.plan(compile(target))
  const file = ModuleLoader.resolvePath(target)
  // The checks run (in their thread) while the module loads.
  const pending = Check.start(fs.existsSync(file) ? [file] : [])
  let plan: CompiledPlan<unknown, unknown, unknown>
  try {
    const loaded = await ModuleLoader.load(target, options)
    plan = compile(loaded.dataset, { module: loaded.module })
  } catch (e) {
    const diagnostics = await pending.diagnostics().catch(() => [])
    if (Diagnostic.hasErrors(diagnostics)) return diagnostics
    throw e
  }
  return pending.diagnostics(plan.plan)
}

/**
 * Starts the local backend's worker processes before the module is even loaded, so they
 * load the engine and the module while the driver plans (see `WorkerProcesses.prestart`).
 * Options the run will reject start nothing here; the run reports them.
 */
export const prestartWorkers = (modulePath: string, options: RunOptions): void => {
  if (options.backend !== "local" || options.dryRun) return
  let resolved: RunOptionsModule.Resolved
  try {
    resolved = RunOptionsModule.resolve(options, "local")
  } catch {
    return
  }
  WorkerProcesses.prestart(resolved.workers, ModuleLoader.resolvePath(modulePath), resolved.memoryBudgetBytes)
}

/** Marks a dataset as built by a module, so `compile` records how to rebuild it. */
export const fromModule = <T extends object>(dataset: T, module: ModuleRef): T => {
  modules.set(dataset, module)
  return dataset
}

/** The Promise API logs warnings (and progress when asked) to stderr, never to stdout. */
const toPromise = <A>(effect: Effect.Effect<A, ZephyrError>, progress: boolean): Promise<A> =>
  Effect.runPromiseExit(effect.pipe(StderrLogger.withStderr(StderrLogger.levelFromEnv(progress ? LogLevel.Info : LogLevel.Warning)))).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  })

const asZephyrError = (e: unknown): ZephyrError =>
  e && typeof e === "object" && "_tag" in e && String((e as { _tag: unknown })._tag).startsWith("Zephyr")
    ? (e as ZephyrError)
    : new ZephyrPlanError({ reason: "builder-failed", message: (e as Error)?.message ?? String(e) })
