import type { ts } from "ts-morph"
import type * as Diagnostic from "./Diagnostic.ts"
import * as Nodes from "./Nodes.ts"

/**
 * What the analyzer finds: a diagnostic (its file absolute until reported) and, when it
 * concerns a DSL call, where that call's method name is, which Check matches to the plan's
 * op recorded there. Findings do not depend on the plan, so they are cached per module.
 */
export interface Finding extends Diagnostic.Diagnostic {
  readonly call?: Nodes.Position | undefined
}

/** A finding at a syntax node; `call` is the DSL call's method name it concerns, if any. */
export const at = (
  node: ts.Node,
  d: { readonly code: Diagnostic.Code; readonly severity: Diagnostic.Severity; readonly message: string; readonly hint: string; readonly call?: ts.Node | undefined }
): Finding => {
  const { file, line, column } = Nodes.position(node)
  return { code: d.code, severity: d.severity, message: d.message, file, line, column, hint: d.hint, ...(d.call !== undefined ? { call: Nodes.position(d.call) } : {}) }
}
