import type { Dataset } from "./dsl/Dataset.ts"
import * as ModuleLoader from "./compiler/ModuleLoader.ts"
import * as Zephyr from "./Zephyr.ts"

/**
 * Pipeline modules. A module's export is a Dataset or a function of `--arg k=v` pairs;
 * `define` types such a function, `load` builds the dataset from a module path as the
 * CLI and workers do.
 */
export const define = <A, E, R>(build: (args: Readonly<Record<string, string>>) => Dataset<A, E, R>) => build

/** Reads a `--arg`, with a default when it was not given. */
export const arg = (args: Readonly<Record<string, string>>, name: string, fallback: string): string => args[name] ?? fallback

/** Reads a numeric `--arg`; a value that is not a number is a build error naming it. */
export const intArg = (args: Readonly<Record<string, string>>, name: string, fallback: number): number => {
  const v = args[name]
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n)) throw new TypeError(`--arg ${name}=${v}: expected an integer`)
  return n
}

/** Builds the dataset of a pipeline module; running it later starts workers that rebuild it the same way. */
export const load = async (...args: Parameters<typeof ModuleLoader.load>): Promise<ModuleLoader.LoadedModule> => {
  const loaded = await ModuleLoader.load(...args)
  Zephyr.fromModule(loaded.dataset, loaded.module)
  return loaded
}
export type LoadedModule = ModuleLoader.LoadedModule
