import type * as Op from "../../plan/Op.ts"

/**
 * An error thrown by user code (or by data, inside an op), tagged with the op it happened
 * in so the report can name the op's DSL call and source line.
 */
export class UserCodeError extends Error {
  constructor(readonly op: Op.Op, readonly original: unknown) {
    super(original instanceof Error ? original.message : String(original))
  }
}

/** Runs `f`, tagging anything it throws with `op` (once: the innermost op wins). */
export const attribute = <T>(op: Op.Op, f: () => T): T => {
  try {
    return f()
  } catch (e) {
    throw e instanceof UserCodeError ? e : new UserCodeError(op, e)
  }
}

export const attributeAsync = async <T>(op: Op.Op, f: () => Promise<T>): Promise<T> => {
  try {
    return await f()
  } catch (e) {
    throw e instanceof UserCodeError ? e : new UserCodeError(op, e)
  }
}
