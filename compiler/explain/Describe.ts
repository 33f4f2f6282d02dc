import * as Expr from "../../plan/Expr.ts"
import type * as Op from "../../plan/Op.ts"
import * as Source from "../../plan/Source.ts"
import type * as Stage from "../../plan/Stage.ts"

const combiner = (name: string) => (name === "anonymous" ? "combiner" : `combiner ${name}`)

const named = (kind: string, name: string | null) => (name ? `${kind}(${name})` : kind)

/** One line of text per op, as explain shows it. */
export const op = (o: Op.Op): string => {
  switch (o.kind) {
    case "loadFile": case "loadJsonl": case "loadParquet": case "loadText": case "loadCsv": {
      const parts: Array<string> = [o.kind]
      if (o.columns) parts.push(`columns [${o.columns.join(", ")}]`)
      if (o.filter) parts.push(`skip rows unless ${Expr.render(o.filter)}`)
      if (o.schema) parts.push(`schema ${o.schema}`)
      if (o.onBadRow !== "fail") parts.push(`bad rows: ${o.onBadRow}`)
      if (o.includeFilePaths) parts.push(`file path in ${o.filePathColumn}`)
      if (o.approxShardBytes !== null) parts.push(`split ~${o.approxShardBytes} bytes`)
      return parts.join(", ")
    }
    case "filter": {
      const base = o.expr ? `filter ${Expr.render(o.expr)}` : named("filter", o.name)
      return o.pushedInto ? `${base}, pushed into ${o.pushedInto}` : base
    }
    case "select": {
      const base = `select(${o.columns.map((c) => JSON.stringify(c)).join(", ")})`
      return o.pushedInto ? `${base}, pushed into ${o.pushedInto}` : base
    }
    case "map": case "flatMap": case "mapShard": case "windowBy": return named(o.kind, o.name)
    case "mapEffect": return `${named("mapEffect", o.name)}, concurrency ${o.concurrency}`
    case "takePerShard": return `takePerShard(${o.n})`
    case "window": return `window(${o.size})`
    case "groupBy": {
      const parts = [`${named("groupBy", o.name)} ${o.role}`]
      if (o.role === "scatter") {
        if (o.combiner) parts.push(combiner(o.combiner))
        if (o.sortBy) parts.push("sortBy")
      } else parts.push(`reducer ${o.reducer ?? "(anonymous)"}`)
      return parts.join(", ")
    }
    case "deduplicate": return `${named("deduplicate", o.name)} ${o.role}`
    case "reduce": case "count": return `${named(o.kind, o.name)} ${o.role}`
    case "reshard": return `reshard(${o.n})`
    case "sortedMergeJoin": return `${named("sortedMergeJoin", o.name)} ${o.how} with stage ${o.rightStage}${o.combiner ? `, ${combiner(o.combiner)}` : ""}`
    case "write": return `write ${o.format} ${o.pattern === null ? "(pattern function)" : JSON.stringify(o.pattern)}${o.skipExisting ? ", skipExisting" : ""}`
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
