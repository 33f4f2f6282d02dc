import { Dataset } from "../../dsl/Dataset.ts"
import type { Step } from "../../dsl/Step.ts"
import { ZephyrPlanError } from "../../plan/Errors.ts"

/**
 * Pass 1: the dataset is well formed. Argument errors were already thrown by the DSL; this
 * checks what only the whole chain shows (a source first, a Dataset on every join's right).
 */
export const validate = (dataset: Dataset<unknown, unknown, unknown>): ReadonlyArray<Step> => {
  if (!Dataset.isDataset(dataset)) {
    throw new ZephyrPlanError({ reason: "not-a-dataset", message: `Expected a Dataset to compile, got ${dataset === null ? "null" : typeof dataset}.` })
  }
  const steps = dataset.steps
  const first = steps[0]
  if (!first || (first.t !== "list" && first.t !== "files")) {
    throw new ZephyrPlanError({ reason: "invalid-pipeline", message: "A pipeline must start with a source (fromList, fromIterable, fromFiles or read*)." })
  }
  for (const step of steps.slice(1)) {
    if (step.t === "list" || step.t === "files") {
      throw new ZephyrPlanError({ reason: "invalid-pipeline", message: `A source can only start a pipeline (${step.method} at ${step.loc.file}:${step.loc.line}).`, file: step.loc.file, line: step.loc.line })
    }
    if (step.t === "join") validate(step.right)
  }
  return steps
}
