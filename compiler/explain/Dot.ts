import type * as Plan from "../../plan/Plan.ts"
import { OpKind } from "../../plan/OpKind.ts"
import * as Describe from "./Describe.ts"

const escape = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')

/** The stage graph for Graphviz: one box per stage, edges labelled by how data moves. */
export const render = (plan: Plan.Plan): string => {
  const out = [`digraph "zephyr-${plan.fingerprint}" {`, "  rankdir=TB;", '  node [shape=box, fontname="monospace"];']
  for (const stage of plan.stages) {
    const label = [`stage ${stage.id} ${stage.kind} (${Describe.shards(stage.shards)})`, ...stage.ops.map((o) => `${o.id} ${Describe.op(o)}`), `ends: ${stage.boundary.detail}`]
    out.push(`  s${stage.id} [label="${label.map(escape).join("\\l")}\\l"];`)
    const i = stage.input
    if (i.kind === "source") {
      out.push(`  src${stage.id} [shape=ellipse, label="${escape(Describe.input(i))}"];`, `  src${stage.id} -> s${stage.id};`)
    } else {
      const style = i.kind === "shuffle" ? ' [label="shuffle", style=dashed]' : i.kind === "reshard" ? ' [label="reshard"]' : ""
      out.push(`  s${i.stage} -> s${stage.id}${style};`)
    }
    for (const op of stage.ops) if (op.kind === OpKind.sortedMergeJoin) out.push(`  s${op.rightStage} -> s${stage.id} [label="join", style=bold];`)
  }
  out.push("}")
  return out.join("\n") + "\n"
}
