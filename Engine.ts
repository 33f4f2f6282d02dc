/**
 * The engine bundle's entry (dist/engine.cjs, loaded once per process by EngineLoader): the
 * parts that the facades dist/index.js, cli.js, worker.js and worker-command.js expose, each
 * run when first asked for (a worker process never runs the command-line parser's modules).
 */
export const index = () => import("./index.ts")
export const cli = () => import("./cli/main.ts")
export const localWorker = () => import("./runtime/worker/LocalWorkerProcess.ts")
export const workerCommand = () => import("./cli/WorkerProgram.ts")
