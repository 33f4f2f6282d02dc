import * as Expr from "../../plan/Expr.ts"
import type * as Op from "../../plan/Op.ts"
import { OpKind } from "../../plan/OpKind.ts"
import * as Source from "../../plan/Source.ts"
import type * as Stage from "../../plan/Stage.ts"

const combiner = (name: string) => (name === "anonymous" ? "combiner" : `combiner ${name}`)

const named = (kind: string, name: string | null) => (name ? `${kind}(${name})` : kind)

/** One line of text per op, as explain shows it. */
export const op = (o: Op.Op): string => {
  switch (o.kind) {
    case OpKind.loadFile: case OpKind.loadJsonl: case OpKind.loadParquet: case OpKind.loadText: case OpKind.loadCsv: {
      const parts: Array<string> = [o.kind]
      if (o.columns) parts.push(`columns [${o.columns.join(", ")}]${o.columnsInferred ? " (the fields its functions read)" : ""}`)
      if (o.filter) parts.push(`skip rows unless ${Expr.render(o.filter)}`)
      if (o.schema) parts.push(`schema ${o.schema}`)
      if (o.onBadRow !== "fail") parts.push(`bad rows: ${o.onBadRow}`)
      if (o.includeFilePaths) parts.push(`file path in ${o.filePathColumn}`)
      if (o.approxShardBytes !== null) parts.push(`split ~${o.approxShardBytes} bytes`)
      return parts.join(", ")
    }
    case OpKind.filter: {
      const base = o.expr ? `filter ${Expr.render(o.expr)}` : named(OpKind.filter, o.name)
      return o.pushedInto ? `${base}, pushed into ${o.pushedInto}` : base
    }
    case OpKind.select: {
      const base = `select(${o.columns.map((c) => JSON.stringify(c)).join(", ")})`
      return o.pushedInto ? `${base}, pushed into ${o.pushedInto}` : base
    }
    case OpKind.map: case OpKind.flatMap: case OpKind.mapShard: case OpKind.windowBy: return named(o.kind, o.name)
    case OpKind.mapEffect: return `${named(OpKind.mapEffect, o.name)}, concurrency ${o.concurrency}`
    case OpKind.takePerShard: return `takePerShard(${o.n})`
    case OpKind.window: return `window(${o.size})`
    case OpKind.groupBy: {
      const parts = [`${named(OpKind.groupBy, o.name)} ${o.role}`]
      if (o.role === "scatter") {
        if (o.combiner) parts.push(combiner(o.combiner) + (o.combinerSums ? ` (sums ${o.combinerSums.join(", ")} in place)` : ""))
        if (o.sortBy) parts.push("sortBy")
      } else parts.push(`reducer ${o.reducer ?? "(anonymous)"}`)
      return parts.join(", ")
    }
    case OpKind.deduplicate: return `${named(OpKind.deduplicate, o.name)} ${o.role}`
    case OpKind.reduce: case OpKind.count: return `${named(o.kind, o.name)} ${o.role}`
    case OpKind.reshard: return `reshard(${o.n})`
    case OpKind.sortedMergeJoin: return `${named(OpKind.sortedMergeJoin, o.name)} ${o.how} with stage ${o.rightStage}${o.combiner ? `, ${combiner(o.combiner)}` : ""}`
    case OpKind.write: return `write ${o.format} ${o.pattern === null ? "(pattern function)" : JSON.stringify(o.pattern)}${o.skipExisting ? ", skipExisting" : ""}`
  }
}

export const input = (i: Stage.Input): string => {
  switch (i.kind) {
    case "source": return Source.describe(i.source)
    case "stage": return `output of stage ${i.stage}`
    case "shuffle": return `shuffle output of stage ${i.stage}`
    case "reshard": return `output of stage ${i.stage}, re-dealt by the coordinator`
  }
}

export const shards = (s: Stage.Shards): string => `${s.in ?? "?"} → ${s.out ?? "?"} shard${s.out === 1 ? "" : "s"}`
