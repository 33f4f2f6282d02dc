import * as fs from "node:fs"
import * as path from "node:path"
import { Layer } from "effect"
import { Dataset } from "../dsl/Dataset.ts"
import { ZephyrPlanError } from "../plan/Errors.ts"
import type { ModuleRef } from "../plan/ModuleRef.ts"
import * as TypeScriptImport from "./TypeScriptImport.ts"

/**
 * Loads a pipeline module: its export (default, or named) is a Dataset or a function
 * `(args) => Dataset`; an optional `layer` export provides the services its Effects need.
 * The coordinator and every worker load the same module with the same args.
 */
export interface LoadedModule {
  readonly dataset: Dataset<unknown, unknown, unknown>
  readonly layer: Layer.Layer<any, any, never> | undefined
  readonly module: ModuleRef
}

export const resolvePath = (modulePath: string): string => path.resolve(modulePath)

/**
 * Imports a pipeline module ahead of its load (a worker process does it while the driver
 * plans); the later `load` finds it in the module cache. Failures are left to `load`.
 */
export const preload = (modulePath: string): void => {
  const file = resolvePath(modulePath)
  TypeScriptImport.importModule(file).catch(() => undefined)
}

export const load = async (
  modulePath: string,
  options: { readonly export?: string | undefined; readonly args?: Readonly<Record<string, string>> | undefined } = {}
): Promise<LoadedModule> => {
  const file = resolvePath(modulePath)
  if (!fs.existsSync(file)) throw new ZephyrPlanError({ reason: "module-not-found", message: `Pipeline module ${modulePath} does not exist.`, file: modulePath })
  let mod: Record<string, unknown>
  try {
    mod = await TypeScriptImport.importModule(file)
  } catch (e) {
    const err = e as Error
    throw new ZephyrPlanError({ reason: "module-import-failed", message: `Could not import pipeline module ${modulePath}: ${err?.message ?? String(e)}`, file: modulePath })
  }
  const name = options.export ?? "default"
  if (!(name in mod) || mod[name] === undefined) {
    const available = Object.keys(mod).filter((k) => k !== "layer").sort()
    throw new ZephyrPlanError({
      reason: "missing-export",
      message: `Pipeline module ${modulePath} has no export named "${name}"; it exports: ${available.length ? available.join(", ") : "nothing"}.`,
      file: modulePath
    })
  }
  const args = options.args ?? {}
  const value = mod[name]
  let dataset: unknown
  try {
    dataset = typeof value === "function" && !Dataset.isDataset(value) ? await (value as (a: Record<string, string>) => unknown)({ ...args }) : value
  } catch (e) {
    if (e && typeof e === "object" && "_tag" in e) throw e
    throw new ZephyrPlanError({ reason: "builder-failed", message: `Building the pipeline from ${modulePath} (export "${name}") failed: ${(e as Error)?.message ?? String(e)}`, file: modulePath })
  }
  if (!Dataset.isDataset(dataset)) {
    throw new ZephyrPlanError({
      reason: "not-a-dataset",
      message: `Export "${name}" of ${modulePath} must be a Dataset or a function (args) => Dataset; got ${dataset === null ? "null" : typeof dataset}.`,
      file: modulePath
    })
  }
  const layer = mod.layer
  if (layer !== undefined && !Layer.isLayer(layer)) {
    throw new ZephyrPlanError({ reason: "invalid-layer", message: `Export "layer" of ${modulePath} must be an Effect Layer.`, file: modulePath })
  }
  const sources = TypeScriptImport.sources(file)
  return { dataset, layer: layer as Layer.Layer<any, any, never> | undefined, module: { path: file, export: options.export, args, ...(sources ? { sources } : {}) } }
}
