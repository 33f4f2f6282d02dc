import type { Step } from "../../dsl/Step.ts"
import type { Dataset } from "../../dsl/Dataset.ts"
import type { Lowered, LogicalOp, Pipeline } from "../Logical.ts"
import type * as Implementation from "../../executable/Implementation.ts"
import type * as Op from "../../plan/Op.ts"
import { OpKind } from "../../plan/OpKind.ts"
import type * as Source from "../../plan/Source.ts"

// Names JavaScript infers from an options property (`{ combiner: (k, xs) => ... }`) say
// nothing about the function.
const inferredNames = new Set(["anonymous", "key", "reducer", "combiner", "sortBy", "leftKey", "rightKey", "fn", "fold"])

const fnName = (fn: unknown): string | null =>
  typeof fn === "function" && fn.name && !inferredNames.has(fn.name) ? fn.name : null

const compressionOf = (pattern: unknown): string | null =>
  typeof pattern !== "string" ? null : /\.(gz|gzip)$/.test(pattern) ? "gzip" : /\.(zst|zstd)$/.test(pattern) ? "zstd" : null

const schemaName = (schema: unknown): string | null => {
  if (!schema) return null
  const s = String((schema as { ast?: unknown }).ast ?? "schema")
  return s.length > 80 ? s.slice(0, 77) + "..." : s
}

/**
 * Pass 2: DSL steps → a source and a linear list of ops with stable ids (`o0`, `o1`, ...
 * in build order, a join's right side numbered where the join appears), and the table of
 * user functions keyed by those ids.
 */
export const lower = (steps: ReadonlyArray<Step>): Lowered => {
  const implementations = new Map<string, Implementation.Implementation>()
  let next = 0
  const id = () => `o${next++}`

  const pipeline = (chain: ReadonlyArray<Step>): Pipeline => {
    const [head, ...rest] = chain
    let source: Source.Source
    if (head!.t === "list") {
      source = { id: id(), kind: "list", method: head!.method, count: head!.items.length, source: head!.loc }
      implementations.set(source.id, { kind: "list", items: head!.items })
    } else if (head!.t === "files") {
      source = { id: id(), kind: "files", method: head!.method, pattern: head!.pattern, emptyGlobOk: head!.emptyGlobOk, source: head!.loc }
    } else throw new Error("unreachable: validate ensures a source first")
    const ops: Array<LogicalOp> = []
    for (const step of rest) ops.push(lowerStep(step))
    return { source, ops }
  }

  const lowerStep = (step: Step): LogicalOp => {
    const opId = id()
    const base = { id: opId, source: step.loc }
    switch (step.t) {
      case "load": {
        implementations.set(opId, { kind: "load", schema: step.schema, options: step.options })
        const op: Op.OfKind<Extract<Step, { t: "load" }>["kind"]> = {
          ...base, kind: step.kind, name: null, format: step.format,
          columns: step.options.columns ? [...step.options.columns] : null, filter: null,
          includeFilePaths: step.options.includeFilePaths === true, filePathColumn: step.options.filePathColumn ?? "__file_path",
          approxShardBytes: step.options.approxShardBytes ?? null, schema: schemaName(step.schema), onBadRow: step.options.onBadRow ?? "fail"
        }
        return { t: "op", op }
      }
      case "fn":
        implementations.set(opId, { kind: "fn", fn: step.fn })
        return step.kind === OpKind.filter
          ? { t: "op", op: { ...base, kind: OpKind.filter, name: fnName(step.fn), expr: null } }
          : { t: "op", op: { ...base, kind: step.kind, name: fnName(step.fn) } }
      case "exprFilter":
        return { t: "op", op: { ...base, kind: OpKind.filter, name: null, expr: step.expr } }
      case "mapEffect":
        implementations.set(opId, { kind: "mapEffect", fn: step.fn })
        return { t: "op", op: { ...base, kind: OpKind.mapEffect, name: fnName(step.fn), concurrency: step.concurrency } }
      case "mapShard":
        implementations.set(opId, { kind: "mapShard", fn: step.fn })
        return { t: "op", op: { ...base, kind: OpKind.mapShard, name: fnName(step.fn) } }
      case "windowBy":
        implementations.set(opId, { kind: "windowBy", fold: step.fold, initial: step.initial })
        return { t: "op", op: { ...base, kind: OpKind.windowBy, name: fnName(step.fold) } }
      case "select":
        return { t: "op", op: { ...base, kind: OpKind.select, name: null, columns: [...step.columns] } }
      case "takePerShard":
        return { t: "op", op: { ...base, kind: OpKind.takePerShard, name: null, n: step.n } }
      case "window":
        return { t: "op", op: { ...base, kind: OpKind.window, name: null, size: step.size } }
      case "reshard":
        return { t: "reshard", op: { ...base, kind: OpKind.reshard, name: null, n: step.n } }
      case "groupBy":
        implementations.set(opId, { kind: "groupBy", key: step.key, reducer: step.reducer, sortBy: step.sortBy, combiner: step.combiner })
        return {
          t: "shuffle",
          op: {
            ...base, kind: OpKind.groupBy, name: fnName(step.key), role: "scatter", numOutputShards: step.numOutputShards ?? null,
            reducer: fnName(step.reducer), sortBy: step.sortBy !== undefined,
            combiner: step.combiner === undefined ? null : (fnName(step.combiner) ?? "anonymous")
          }
        }
      case "deduplicate":
        implementations.set(opId, { kind: "deduplicate", key: step.key })
        return { t: "shuffle", op: { ...base, kind: OpKind.deduplicate, name: fnName(step.key), role: "scatter", numOutputShards: step.numOutputShards ?? null } }
      case "fold":
        implementations.set(opId, { kind: "fold", local: step.local, global: step.global })
        return { t: "fold", op: { ...base, kind: step.kind, name: step.kind === "count" ? null : fnName(step.local), role: "local" } }
      case "join": {
        implementations.set(opId, { kind: "join", leftKey: step.leftKey, rightKey: step.rightKey, combiner: step.combiner ?? defaultCombiner })
        const right = pipeline((step.right as Dataset<unknown, unknown, unknown>).steps)
        return {
          t: "join", right,
          op: {
            ...base, kind: OpKind.sortedMergeJoin, name: fnName(step.leftKey), how: step.how, rightStage: -1,
            rightKey: fnName(step.rightKey), combiner: step.combiner === undefined ? null : (fnName(step.combiner) ?? "anonymous")
          }
        }
      }
      case "write":
        implementations.set(opId, { kind: "write", pattern: step.pattern, options: step.options })
        return {
          t: "op",
          op: {
            ...base, kind: OpKind.write, name: null, format: step.format,
            pattern: typeof step.pattern === "string" ? step.pattern : null, skipExisting: step.skipExisting,
            compression: compressionOf(step.pattern)
          }
        }
      case "list": case "files":
        throw new Error("unreachable: validate rejects a source after the start")
    }
  }

  return { pipeline: pipeline(steps), implementations }
}

/** The default join combiner: the two objects merged, right over left; a missing right side keeps the left. */
export function defaultCombiner(left: unknown, right: unknown): unknown {
  if (right === null || right === undefined) return typeof left === "object" && left !== null ? { ...left } : left
  if (typeof left === "object" && left !== null && typeof right === "object") return { ...left, ...right }
  return [left, right]
}
