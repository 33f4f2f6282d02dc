/**
 * The engine bundle's entry (dist/engine.cjs, loaded once per process by EngineLoader): the
 * parts that the facades dist/index.js, cli.js, worker.js, worker-command.js and effect.js expose, each
 * run when first asked for (a worker process never runs the command-line parser's modules).
 */
export const index = () => import("./index.ts")
export const cli = () => import("./cli/main.ts")
export const localWorker = () => import("./runtime/worker/LocalWorkerProcess.ts")
export const workerCommand = () => import("./cli/WorkerProgram.ts")
/** The Effect library, for a pipeline module's `import ... from "effect"` (see TypeScriptImport): the engine's own. */
export const effect = () => import("./runtime/EffectLibrary.ts")
