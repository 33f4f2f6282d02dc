import * as Expr from "../../plan/Expr.ts"
import * as Op from "../../plan/Op.ts"
import type * as Plan from "../../plan/Plan.ts"
import type * as Stage from "../../plan/Stage.ts"
import type * as Advice from "./Advice.ts"
import * as CodeFact from "./CodeFact.ts"
import { OpKind } from "../../plan/OpKind.ts"

/**
 * The rules of explain's advice: pure functions of the plan and of what the analyzer read
 * in the code of its DSL calls (CodeFact, by op id). Two rules need only the plan (a
 * reshard right after a read, a mapShard after a mapEffect); two need the code (a reducer
 * that only sums or counts, a filter that reads only fields its map copies), and give no
 * advice without it.
 */

/** The code facts of each op, by op id (Check matches them by the DSL call's location). */
export type Facts = ReadonlyMap<string, ReadonlyArray<CodeFact.CodeFact>>

const factOf = <K extends CodeFact.CodeFact["kind"]>(facts: Facts, op: Op.Op, kind: K): Extract<CodeFact.CodeFact, { kind: K }> | undefined =>
  facts.get(op.id)?.find((f): f is Extract<CodeFact.CodeFact, { kind: K }> => f.kind === kind)

const at = (code: Advice.Code, stage: Stage.Stage, op: Op.Op, message: string, fix: string): Advice.Advice =>
  ({ code, op: op.id, stage: stage.id, message, fix, file: op.source.file, line: op.source.line, column: op.source.column })

const quoted = (names: ReadonlyArray<string>): string => {
  const q = names.map((n) => `\`${n}\``)
  return q.length <= 1 ? (q[0] ?? "") : `${q.slice(0, -1).join(", ")} and ${q[q.length - 1]}`
}

const isIdentifier = (s: string): boolean => /^[A-Za-z_$][\w$]*$/.test(s)

// ---- groupby-without-combiner ----------------------------------------------------------

const accumulates = (fact: CodeFact.ReducerAccumulates): string => {
  const counts = fact.accumulators.some((a) => a.adds.kind === "one")
  const fields = [...new Set(fact.accumulators.flatMap((a) => (a.adds.kind === "field" ? [a.adds.field] : [])))]
  const parts: Array<string> = []
  if (counts) parts.push("counts the items")
  if (fields.length > 0) parts.push(`sums ${quoted(fields)}`)
  if (fact.accumulators.some((a) => a.adds.kind === "item")) parts.push("sums the items")
  if (fact.accumulators.some((a) => a.adds.kind === "value")) parts.push("sums a value computed from each item")
  return parts.join(" and ")
}

/** A combiner that sums `fields` over a partial group and keeps one item of it, in the user's names. */
const summingCombiner = (fact: CodeFact.ReducerAccumulates, fields: ReadonlyArray<string>): string => {
  const { keyName: key, itemsName: items, itemName: x } = fact
  const sums = fields.map((f) => `let ${f} = 0;`).join(" ")
  const adds = fields.map((f) => `${f} += ${x}.${f}`).join("; ")
  return `combiner: (${key}, ${items}) => { ${sums} let last; for (const ${x} of ${items}) { last = ${x}; ${adds} } return last === undefined ? [] : [{ ...last, ${fields.join(", ")} }] }`
}

const combinerFix = (fact: CodeFact.ReducerAccumulates): string => {
  const { keyName: key, itemsName: items, itemName: x } = fact
  const adds = fact.accumulators.map((a) => a.adds)
  // The reducer's result is an item, and it sums each field into the field of the same name:
  // it combines partial groups as well as whole ones.
  const selfCombining = fact.returnsItem &&
    fact.accumulators.every((a) => (a.adds.kind === "field" && a.property === a.adds.field) || (a.adds.kind === "item" && a.property === null))
  if (selfCombining && fact.reducer !== null) {
    return `Add \`combiner: (${key}, ${items}) => [${fact.reducer}(${key}, ${items})]\` to the groupBy's options: ${fact.reducer} returns an item of its input type, so it can sum partial groups map-side too.`
  }
  if (adds.every((a) => a.kind === "field")) {
    const fields = [...new Set(adds.map((a) => (a.kind === "field" ? a.field : "")))]
    if (fields.every(isIdentifier)) {
      return `Add \`${summingCombiner(fact, fields)}\` to the groupBy's options: it sums ${quoted(fields)} map-side into one item per key, which the reducer then sums as before.`
    }
  }
  if (adds.every((a) => a.kind === "item")) {
    return `Add \`combiner: (${key}, ${items}) => { let sum = 0; for (const ${x} of ${items}) sum += ${x}; return [sum] }\` to the groupBy's options: it sums each partial group map-side into one item, which the reducer then sums as before.`
  }
  const what = adds.some((a) => a.kind === "one") ? "`n: 1`" : "the value it sums (`n: ...`)"
  return `Put ${what} into each item with a map before the groupBy, make the reducer add up \`${x}.n\`, and add \`combiner: (${key}, ${items}) => { let n = 0; let last; for (const ${x} of ${items}) { last = ${x}; n += ${x}.n } return last === undefined ? [] : [{ ...last, n }] }\`: partial counts then add up map-side.`
}

const groupByWithoutCombiner = (stage: Stage.Stage, facts: Facts): Array<Advice.Advice> =>
  stage.ops.flatMap((op) => {
    if (op.kind !== OpKind.groupBy || op.role !== "scatter" || op.combiner !== null) return []
    const fact = factOf(facts, op, "reducer-accumulates")
    if (!fact) return []
    const reducer = fact.reducer ?? "of this groupBy"
    return [at(
      "groupby-without-combiner", stage, op,
      `The reducer ${reducer} only ${accumulates(fact)}, yet with no combiner every item crosses the shuffle; a combiner would send one partial result per key from each shard instead.`,
      combinerFix(fact)
    )]
  })

// ---- reshard-after-read ------------------------------------------------------------------

const loadKinds = ["loadFile", "loadJsonl", "loadParquet", "loadText", "loadCsv"] as const

const reshardAfterRead = (plan: Plan.Plan, stage: Stage.Stage): Array<Advice.Advice> => {
  const input = stage.input
  const reshard = stage.ops[0]
  if (input.kind !== "reshard" || reshard?.kind !== "reshard") return []
  const read = plan.stages.find((s) => s.id === input.stage)
  if (!read || read.input.kind !== "source" || read.input.source.kind !== "files" || read.ops.length !== 1) return []
  const load = read.ops[0]!
  if (!Op.isKind(load, ...loadKinds)) return []
  const source = read.input.source
  // No file matches yet (0): they may exist when the run starts.
  const files = read.shards.in || null
  const n = reshard.n
  const parquet = load.kind === OpKind.loadParquet || (load.kind === OpKind.loadFile && /\.parquet$/i.test(source.pattern))
  const options = load.schema !== null || load.columns !== null || load.onBadRow !== "fail" || load.includeFilePaths ? "{ ...the read's options }" : ""
  const readCall = source.method === "fromFiles" ? `fromFiles(${JSON.stringify(source.pattern)}).${load.kind}()` : `${source.method}(${JSON.stringify(source.pattern)})`
  const pathsFirst = `\`Dataset.fromFiles(${JSON.stringify(source.pattern)}).reshard(${n}).${load.kind}(${options})\``
  const message = `reshard(${n}) right after ${readCall} copies every row through chunk files before any other work, only to deal the rows out again.`
  if (files !== null && n < files) {
    return [at("reshard-after-read", stage, reshard, message,
      `Reshard the file paths before they are read, ${pathsFirst}: it deals ${files} paths instead of every row (each shard then reads about ${Math.ceil(files / n)} whole files; keep the row reshard if the files differ much in size).`)]
  }
  if (parquet) {
    const readWith = load.kind === OpKind.loadParquet && source.method === "readParquet"
      ? `\`Dataset.readParquet(${JSON.stringify(source.pattern)}, { approxShardBytes: 128 * 1024 * 1024 })\``
      : `\`.${load.kind}({ approxShardBytes: 128 * 1024 * 1024 })\``
    return [at("reshard-after-read", stage, reshard, message,
      `Drop the reshard and let the reader cut the files into shards as it reads: ${readWith} makes shards of about that many compressed bytes, cut at row groups (size it to give about ${n} shards).`)]
  }
  // The reader gives one shard per file, and cannot split these: with fewer files than n, the row reshard is the way to n shards.
  if (files !== null) return []
  return [at("reshard-after-read", stage, reshard, message,
    `It pays off only with fewer (or much more uneven) files than ${n}; otherwise reshard the paths before they are read: ${pathsFirst}.`)]
}

// ---- filter-after-map ----------------------------------------------------------------------

const filterAfterMap = (stage: Stage.Stage, facts: Facts): Array<Advice.Advice> => {
  const out: Array<Advice.Advice> = []
  stage.ops.forEach((map, i) => {
    const filter = stage.ops[i + 1]
    if (map.kind !== OpKind.map || filter?.kind !== OpKind.filter) return
    const copies = factOf(facts, map, "map-copies")
    const fields = filter.expr !== null ? [...Expr.columns(filter.expr)].sort() : factOf(facts, filter, "item-reads")?.fields
    if (!copies || fields === undefined || fields.length === 0 || !fields.every((f) => CodeFact.copies(copies, f))) return
    const before = stage.ops[i - 1]
    const pushed = filter.expr !== null && before !== undefined && Op.isKind(before, ...loadKinds) ? " Right after the read, the reader applies it too (it reads fewer rows, and Parquet skips row groups)." : ""
    const filterLabel = filter.expr !== null ? `filter ${Expr.render(filter.expr)}` : Op.label(filter)
    const retype = filter.expr !== null ? "" : " (give its parameter the input's type)"
    out.push(at(
      "filter-after-map", stage, filter,
      `${filterLabel} reads only ${quoted(fields)}, which ${Op.label(map)} at line ${map.source.line} copies unchanged from its input, so it could run before the map and spare it the items it drops.`,
      `Swap the two calls, \`.filter(...)\` before \`.map(...)\`: the predicate then gets the map's input, where ${quoted(fields)} ${fields.length === 1 ? "has" : "have"} the same value${fields.length === 1 ? "" : "s"}${retype}.${pushed}`
    ))
  })
  return out
}

// ---- gather-after-async --------------------------------------------------------------------

const gatherAfterAsync = (stage: Stage.Stage): Array<Advice.Advice> => {
  const out: Array<Advice.Advice> = []
  let async: Op.OfKind<"mapEffect"> | undefined
  for (const op of stage.ops) {
    if (op.kind === OpKind.mapEffect) async = op
    else if (op.kind === OpKind.mapShard && async !== undefined) {
      out.push(at(
        "gather-after-async", stage, op,
        `${Op.label(op)} takes the whole shard, and after ${Op.label(async)} at line ${async.source.line} (asynchronous, ${async.concurrency} at a time) the shard is gathered first: every item is held, in memory up to half the task's memory budget and then on disk, instead of streaming past the mapEffect.`,
        `Move \`.mapShard(...)\` before \`.mapEffect(...)\` if it does not need the effect's results; if it needs items one or a few at a time, use map, flatMap, window(n) or windowBy, which stream.`
      ))
      // Its output is a synchronous stream again.
      async = undefined
    }
  }
  return out
}

/** Every piece of advice for a plan, in stage order, then op order. */
export const advise = (plan: Plan.Plan, facts: Facts): Array<Advice.Advice> =>
  plan.stages.flatMap((stage) => [
    ...reshardAfterRead(plan, stage),
    ...gatherAfterAsync(stage),
    ...filterAfterMap(stage, facts),
    ...groupByWithoutCombiner(stage, facts)
  ])
