import * as Plan from "../../plan/Plan.ts"
import type * as Stage from "../../plan/Stage.ts"
import { withMessage, ZephyrPlanError, ZephyrWorkerError } from "../../plan/Errors.ts"
import * as Source from "../../plan/Source.ts"
import type * as Executable from "../../executable/Executable.ts"
import type { ScatterIndex, ShardInput, ShardOutput } from "../../rpc/Protocol.ts"
import * as FileGlob from "../FileGlob.ts"
import * as DataError from "../formats/DataError.ts"
import * as Readers from "../formats/Readers.ts"
import * as RunFile from "../shuffle/RunFile.ts"
import * as SegmentIndex from "../shuffle/SegmentIndex.ts"
import type * as Scheduler from "./Scheduler.ts"
import * as ObjectStore from "../storage/ObjectStore.ts"
import { StorageError } from "../storage/StorageError.ts"
import * as StoragePath from "../storage/StoragePath.ts"
import { OpKind } from "../../plan/OpKind.ts"

export type ShardSpec = Scheduler.ShardSpec

const where = (loc: { readonly file: string; readonly line: number }) => `${loc.file}:${loc.line}`

/** The shards of a stage, from the plan and the outputs of the stages before it. */
export const of = async (
  exe: Executable.Executable,
  stage: Stage.Stage,
  outputs: ReadonlyMap<number, ReadonlyArray<ShardOutput>>
): Promise<Array<ShardSpec>> => {
  const left = await leftInputs(exe, stage, outputs)
  const join = stage.ops.find((o) => o.kind === OpKind.sortedMergeJoin)
  if (!join || join.kind !== OpKind.sortedMergeJoin) return left.map((input) => ({ input }))
  const right = outputs.get(join.rightStage) ?? []
  if (right.length !== left.length) {
    throw new ZephyrWorkerError({
      reason: "invalid-input",
      message: `Sorted merge join requires equal shard counts: the left side has ${left.length} shards, the right side (stage ${join.rightStage}) has ${right.length} (sortedMergeJoin at ${where(join.source)}). Group both sides with the same numOutputShards.`,
      stage: stage.id, op: join.id, file: join.source.file, line: join.source.line
    })
  }
  return left.map((input, i) => ({ input, right: chunksOf(right[i]!) }))
}

const chunksOf = (o: ShardOutput): ShardInput => {
  if (o.kind !== "chunks") throw new Error("Internal: a stage output read as items is a scatter")
  return { kind: "chunks", refs: o.refs }
}

const leftInputs = async (
  exe: Executable.Executable,
  stage: Stage.Stage,
  outputs: ReadonlyMap<number, ReadonlyArray<ShardOutput>>
): Promise<Array<Scheduler.HeldInput>> => {
  const input = stage.input
  switch (input.kind) {
    case "source": return sourceInputs(exe, stage, input.source)
    case "stage": return (outputs.get(input.stage) ?? []).map(chunksOf)
    case "reshard": throw new Error("Internal: a reshard stage has no tasks")
    case "shuffle": {
      const mappers = (outputs.get(input.stage) ?? []).map((m) => {
        if (m.kind !== "scatter") throw new Error("Internal: a shuffle reads scatter outputs")
        return m
      })
      const scatter = Plan.scatterOp(exe.plan.stages[input.stage]!)
      const targets = scatter?.numOutputShards ?? mappers.length
      // A mapper that did not report its segments (too many; or recorded by an older version): its manifest, once.
      const unreported = mappers.filter((m) => m.index === undefined).map((m) => m.manifest)
      const read = new Map<string, ScatterIndex>()
      for (const manifest of unreported) read.set(manifest, SegmentIndex.ofManifest(await manifestOf(manifest)))
      // Each reducer's list is built when its task is handed out (Coordinator), not here.
      return SegmentIndex.deferredInputs(await SegmentIndex.lists(mappers, targets, (manifest) => read.get(manifest)!))
    }
  }
}

const manifestOf = async (file: string): Promise<RunFile.Manifest> => {
  if (!StoragePath.isS3(file)) return RunFile.readManifest(file)
  const bytes = await ObjectStore.of(file).readFile(file)
  if (bytes === undefined) throw new StorageError(`The shuffle manifest ${file} is missing`)
  return RunFile.parseManifest(Buffer.from(bytes).toString("utf8"), file)
}

const sourceInputs = async (exe: Executable.Executable, stage: Stage.Stage, source: Source.Source): Promise<Array<ShardInput>> => {
  if (source.kind === "list") return Array.from({ length: source.count }, (_, index) => ({ kind: "list" as const, index }))
  // Listed asynchronously: the coordinator answers heartbeats and pulls meanwhile. A plan
  // compiled with a file counter has had its pattern checked already.
  const files = await FileGlob.sourceFiles(source).catch((e) => {
    if (e instanceof ZephyrPlanError) throw new ZephyrWorkerError({ reason: "invalid-input", message: e.message, stage: stage.id, file: source.source.file, line: source.source.line })
    // A listing that object storage refused (no bucket, no access, no endpoint): the user's to fix.
    const mapped = DataError.fromObjectStore(e)
    if (mapped instanceof ZephyrWorkerError) {
      throw withMessage(mapped, `Cannot list the input ${JSON.stringify(source.pattern)} of ${Source.describe(source)} at ${where(source.source)}: ${mapped.message}`)
    }
    throw mapped
  })
  if (files.length === 0 && !source.emptyGlobOk) {
    throw new ZephyrWorkerError({
      reason: "missing-input",
      message: `No files found matching pattern ${JSON.stringify(source.pattern)} (${Source.describe(source)} at ${where(source.source)}); pass { emptyGlobOk: true } to allow an empty input.`,
      stage: stage.id, file: source.source.file, line: source.source.line
    })
  }
  const load = stage.ops[0]
  const splitBytes = load && "approxShardBytes" in load ? load.approxShardBytes : null
  if (splitBytes === null) return files.map((path) => ({ kind: "file" as const, path }))
  const out: Array<ShardInput> = []
  for (const path of files) {
    const ranges = await Readers.splitFile(path, splitBytes)
    if (!ranges) out.push({ kind: "file", path })
    else for (const rows of ranges) out.push({ kind: "file", path, rows: { start: rows.start, end: rows.end } })
  }
  return out
}
