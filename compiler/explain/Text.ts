import * as Advice from "../analysis/Advice.ts"
import type * as Plan from "../../plan/Plan.ts"
import * as SourceLocation from "../../plan/SourceLocation.ts"
import * as Describe from "./Describe.ts"

/**
 * A compact, diffable tree: per stage its id, kind, shard counts, input, ops with the
 * user's file:line, and why the stage ends; then the advice, if there is any, each item
 * with its op, stage and file:line:column, its message and its fix.
 */
export const render = (plan: Plan.Plan, advice: ReadonlyArray<Advice.Advice> = []): string => {
  const rows: Array<{ head: string; text: string; where?: string }> = []
  const lines: Array<string | number> = []
  for (const stage of plan.stages) {
    const joined = stage.joinedBy === undefined ? "" : `, joined by stage ${stage.joinedBy}`
    const kind = stage.kind === "join-right" ? `join-right (${stage.base})` : stage.kind
    lines.push(`stage ${stage.id}  ${kind}  ${Describe.shards(stage.shards)}${joined}`)
    const src = stage.input.kind === "source" ? SourceLocation.format(stage.input.source.source) : undefined
    lines.push(rows.push(src ? { head: "from", text: Describe.input(stage.input), where: src } : { head: "from", text: Describe.input(stage.input) }) - 1)
    for (const op of stage.ops) lines.push(rows.push({ head: op.id, text: Describe.op(op), where: SourceLocation.format(op.source) }) - 1)
    lines.push(rows.push({ head: "ends", text: stage.boundary.detail }) - 1)
  }
  const width = Math.min(72, Math.max(36, ...rows.map((r) => r.text.length + 2)))
  const out = [`plan ${plan.fingerprint}  ${plan.stages.length} stage${plan.stages.length === 1 ? "" : "s"}`]
  for (const l of lines) {
    if (typeof l === "string") { out.push(l); continue }
    const r = rows[l]!
    const body = `  ${r.head.padEnd(5)} ${r.text}`
    out.push(r.where ? `${body.padEnd(width + 8)} ${r.where}`.trimEnd() : body)
  }
  if (advice.length > 0) out.push("advice")
  for (const a of advice) {
    out.push(`${`  ${a.op.padEnd(5)} ${a.code} in stage ${a.stage}`.padEnd(width + 8)} ${Advice.location(a)}`, `        ${a.message}`, `        fix: ${a.fix}`)
  }
  return out.join("\n") + "\n"
}
