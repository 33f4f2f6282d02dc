import { CompiledPlan, compile as compileDataset } from "./compiler/Compiler.ts"
import type * as Executable from "./compiler/plan/Executable.ts"
import type * as Source from "./compiler/plan/Source.ts"
import type { Dataset } from "./dsl/Dataset.ts"
import * as FileGlob from "./runtime/FileGlob.ts"

/** Counts a file source's shards by listing its files now (the run lists them again). */
const countFiles = (source: Source.Source): number | null =>
  source.kind === "list" ? source.count : FileGlob.glob(source.pattern).length

export interface CompileOptions {
  readonly module?: Executable.ModuleRef | undefined
}

/** Compiles a dataset into its plan without running anything. */
export const compile = <A, E, R>(dataset: Dataset<A, E, R> | CompiledPlan<A, E, R>, options: CompileOptions = {}): CompiledPlan<A, E, R> =>
  CompiledPlan.isCompiledPlan(dataset)
    ? (dataset as CompiledPlan<A, E, R>)
    : compileDataset(dataset as Dataset<A, E, R>, { countSource: countFiles, module: options.module })
