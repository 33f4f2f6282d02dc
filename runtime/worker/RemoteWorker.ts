import * as fs from "node:fs"
import { Effect } from "effect"
import { compile } from "../../compiler/Compiler.ts"
import * as ModuleLoader from "../../compiler/ModuleLoader.ts"
import { ZephyrPlanError } from "../../plan/Errors.ts"
import type { JobSpec } from "../../rpc/Protocol.ts"
import * as Transport from "../../rpc/Transport.ts"
import * as FileGlob from "../FileGlob.ts"
import * as RuntimeV8Flags from "../RuntimeV8Flags.ts"
import * as BlockFile from "../storage/BlockFile.ts"
import * as ExecutionDir from "../storage/ExecutionDir.ts"
import * as ObjectStore from "../storage/ObjectStore.ts"
import * as S3Options from "../storage/S3Options.ts"
import * as StoragePath from "../storage/StoragePath.ts"
import * as Worker from "./Worker.ts"

/**
 * A worker process that dialled a coordinator: it imports the pipeline module named by
 * the job spec, rebuilds and compiles the plan (the coordinator checks the fingerprint; the
 * columns its loads read come with the job),
 * and reads shared values from chunk storage when first asked for them.
 */
export const loadFromSpec = (spec: JobSpec): Effect.Effect<Worker.Loaded, ZephyrPlanError> =>
  Effect.tryPromise({
    try: async () => {
      if (!spec.module) throw new ZephyrPlanError({ reason: "no-module", message: `Execution ${spec.executionId} has no pipeline module; a worker process cannot rebuild its plan.` })
      // The driver's way to object storage; credentials stay this process's own.
      if (spec.s3 !== undefined) ObjectStore.configure(S3Options.fromDriver(spec.s3))
      const loaded = await ModuleLoader.load(spec.module.path, { export: spec.module.export, args: spec.module.args })
      await fetchShared(spec)
      const executable = compile(loaded.dataset, { module: loaded.module, countSource: FileGlob.countSourceShards })
      // The heap's growth, from the launcher, for the tasks: set now that the engine and the module have loaded (see RuntimeV8Flags).
      RuntimeV8Flags.applyHeapGrowth(process.env)
      // What the driver's analysis found (the columns its loads read, the sums its combiners add in place) applies here too.
      return { executable: executable.withRefinements(spec), layer: loaded.layer }
    },
    catch: (e) => (e instanceof ZephyrPlanError ? e : new ZephyrPlanError({ reason: "module-import-failed", message: (e as Error)?.message ?? String(e) }))
  })

/**
 * `Shared.get` is synchronous: values in object storage are fetched before the first task
 * (they are meant to be small), local ones read when first asked for.
 */
const fetched = new Map<string, Map<string, unknown>>()

const fetchShared = async (spec: JobSpec): Promise<void> => {
  if (!StoragePath.isS3(spec.executionDir) || spec.sharedNames.length === 0) return
  const values = new Map<string, unknown>()
  const store = ObjectStore.of(spec.executionDir)
  for (const name of spec.sharedNames) {
    const file = ExecutionDir.sharedFile(spec.executionDir, name)
    const bytes = await store.readFile(file)
    if (bytes === undefined) throw new Error(`The shared value ${JSON.stringify(name)} is missing from ${file}`)
    values.set(name, BlockFile.decode(bytes))
  }
  fetched.set(spec.executionDir, values)
}

export const sharedFromStorage = (spec: JobSpec) => {
  const cache = fetched.get(spec.executionDir) ?? new Map<string, unknown>()
  return (name: string): unknown => {
    if (cache.has(name)) return cache.get(name)
    if (!spec.sharedNames.includes(name)) {
      throw Worker.unknownShared(name, spec.sharedNames)
    }
    const value = BlockFile.decode(fs.readFileSync(ExecutionDir.sharedFile(spec.executionDir, name)))
    cache.set(name, value)
    return value
  }
}

/**
 * Exits when the driver that started us is gone, so a killed driver leaves no orphans. The
 * driver's pid comes from the environment: a worker still starting when its driver dies
 * has already been re-parented, and its own ppid would prove nothing.
 */
export const exitWhenDriverGone = (driver: number) => Effect.sync(() => {
  const check = () => { if (process.ppid !== driver) process.exit(3) }
  check()
  setInterval(check, 500).unref()
})

export interface Options {
  readonly coordinator: string
  readonly workerId: string
  readonly token: string
  /** How long to keep dialling after the connection broke (default: what the coordinator says). */
  readonly reconnectTimeoutMs?: number | undefined
}

/** Dials the coordinator and works until told to shut down; dials again (same id) when the connection breaks. */
export const run = (options: Options) =>
  Effect.scoped(Effect.gen(function* () {
    const { host, port } = Transport.parseAddress(options.coordinator)
    return yield* Worker.run({
      workerId: options.workerId, token: options.token, connect: Transport.dialTcp(host, port), reconnectTimeoutMs: options.reconnectTimeoutMs,
      load: loadFromSpec, shared: sharedFromStorage
    })
  }))
