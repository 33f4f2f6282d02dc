import type { ts } from "ts-morph"
import type * as Diagnostic from "./Diagnostic.ts"
import * as Nodes from "./Nodes.ts"

/** A diagnostic at a syntax node: its file (absolute until reported), line and column. */
export const at = (
  node: ts.Node,
  d: { readonly code: Diagnostic.Code; readonly severity: Diagnostic.Severity; readonly message: string; readonly hint: string; readonly op?: string | undefined }
): Diagnostic.Diagnostic => {
  const { file, line, column } = Nodes.position(node)
  return { code: d.code, severity: d.severity, message: d.message, file, line, column, hint: d.hint, ...(d.op !== undefined ? { op: d.op } : {}) }
}
