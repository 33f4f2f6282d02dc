import { CounterSet } from "./CounterSet.ts"
import { ZephyrWorkerError } from "../../plan/Errors.ts"
import type * as Executable from "../../executable/Executable.ts"
import * as Implementation from "../../executable/Implementation.ts"
import type * as Op from "../../plan/Op.ts"
import { OpKind } from "../../plan/OpKind.ts"
import type * as Stage from "../../plan/Stage.ts"
import * as TaskContext from "./TaskContext.ts"
import { type OutputCommit, refCount, type ShardInput, type ShardOutput, type StageIo, type Task } from "../../rpc/Protocol.ts"
import * as Readers from "../formats/Readers.ts"
import type { Segment } from "../shuffle/RunFile.ts"
import * as SegmentIndex from "../shuffle/SegmentIndex.ts"
import * as ShuffleReader from "../shuffle/ShuffleReader.ts"
import * as RemoteChunks from "../storage/RemoteChunks.ts"
import * as StorageError from "../storage/StorageError.ts"
import * as Stream from "./ChunkStream.ts"
import { JoinOrderError } from "./MergeJoin.ts"
import * as Operators from "./Operators.ts"
import * as Outputs from "./Outputs.ts"
import { TaskScope, type TaskEnv } from "./TaskScope.ts"
import { UserCodeError } from "./UserCodeError.ts"

export type { TaskEnv } from "./TaskScope.ts"
export const readRefs = Operators.readRefs

export type TaskOutcome =
  | { readonly kind: "done"; readonly output: ShardOutput; readonly commit?: OutputCommit | undefined; readonly counters: CounterSet; readonly io: StageIo }
  | { readonly kind: "failed"; readonly error: ZephyrWorkerError; readonly permanent: boolean; readonly infrastructure: boolean; readonly counters: CounterSet }

const isIterator = (v: unknown): v is Iterator<unknown> =>
  v !== null && typeof v === "object" && typeof (v as Iterator<unknown>).next === "function" && typeof (v as Iterable<unknown>)[Symbol.iterator] === "function"

/**
 * Runs one shard through one stage: opens its input, applies the stage's fused ops (the
 * operator table) as a stream of chunks, and ends it in the stage's output (chunk files, a
 * scatter, or a user's file). Never throws: failures come back as a report naming the
 * stage, shard, op and line.
 */
export const run = async (exe: Executable.Executable, task: Task, env: TaskEnv): Promise<TaskOutcome> => {
  const counters = new CounterSet()
  const stage = exe.plan.stages[task.stage]
  if (!stage) {
    return { kind: "failed", counters, permanent: true, infrastructure: false, error: new ZephyrWorkerError({ reason: "internal", message: `Internal: the plan has no stage ${task.stage}.`, stage: task.stage, shard: task.shard }) }
  }
  const ctx: TaskContext.TaskContext = {
    counters,
    shared: env.shared,
    stage: task.stage,
    shard: task.shard,
    totalShards: task.totalShards,
    attempt: task.attempt,
    workerId: env.workerId
  }
  const scope = new TaskScope(exe, stage, task, env, ctx)
  try {
    const produced = await (stage.ops.some((op) => op.kind === "mapEffect") ? TaskContext.runAsync(ctx, () => runStage(scope)) : runStage(scope))
    return { kind: "done", output: produced.output, ...(produced.commit ? { commit: produced.commit } : {}), counters, io: ioOf(scope, stage) }
  } catch (e) {
    return { kind: "failed", counters, ...describeFailure(e, stage, task, env) }
  } finally {
    scope.cleanup()
  }
}

const loadKinds: ReadonlySet<Op.Kind> = new Set(["loadFile", "loadJsonl", "loadParquet", "loadText", "loadCsv"])

/**
 * The task's built-in counters: a stage that loads files counts the rows it read (and the
 * bytes of the files) as its input, not the paths it was given.
 */
const ioOf = (scope: TaskScope, stage: Stage.Stage): StageIo => {
  const counters = scope.ctx.counters
  const io = scope.io
  if (!stage.ops.some((op) => loadKinds.has(op.kind))) return { ...io }
  const input = scope.task.input
  const paths = input.kind === "chunks" ? input.refs.reduce((n, ref) => n + refCount(ref), 0) : input.kind === "shuffle" ? 0 : 1
  return {
    ...io,
    recordsIn: Math.max(0, io.recordsIn - paths) + counters.value(Readers.RECORDS_IN),
    bytesIn: io.bytesIn + counters.value(Readers.BYTES_READ)
  }
}

const runStage = async (scope: TaskScope): Promise<Outputs.Produced> => {
  const ops = scope.stage.ops
  const terminal = Outputs.terminalOf(ops)
  if (terminal?.kind === OpKind.write) {
    const skipped = await Outputs.existing(scope, terminal)
    if (skipped) return { output: skipped }
  }
  // Chunks in object storage are fetched into local files first: the loops below read local files.
  const remote = RemoteChunks.isRemote(scope.env.executionDir)
  if (remote) {
    scope.input = await RemoteChunks.fetchInput(scope.input, scope.scratch())
    if (scope.right !== undefined) scope.right = await RemoteChunks.fetchInput(scope.right, scope.scratch())
  }
  const input = scope.input
  let stream: Stream.ChunkStream
  let from = 0
  if (input.kind === "shuffle") {
    const first = ops[0]
    if (!first || (first.kind !== OpKind.groupBy && first.kind !== OpKind.deduplicate) || first.role !== "reduce") {
      throw new Error(`Internal: stage ${scope.stage.id} reads a shuffle but does not start with a reduce`)
    }
    // Only this target's own segment list: no manifest is read.
    const segments = remote ? await RemoteChunks.fetchShuffle(input, scope.env.executionDir, scope.scratch()) : SegmentIndex.segmentsOf(input, scope.env.executionDir)
    stream = reduce(scope, first, input, segments)
    from = 1
  } else {
    stream = open(scope, input)
  }
  const to = terminal === undefined ? ops.length : ops.length - 1
  for (let i = from; i < to; i++) stream = Operators.apply(ops[i]!, scope, stream)
  return Outputs.run(scope, terminal, stream)
}

const open = (scope: TaskScope, input: ShardInput): Stream.ChunkStream => {
  switch (input.kind) {
    case "list": {
      const source = scope.stage.input.kind === "source" ? scope.stage.input.source : undefined
      if (!source) throw new Error(`Internal: stage ${scope.stage.id} has no list source`)
      const items = Implementation.get(scope.exe.implementations, source.id, "list").items
      scope.io.recordsIn += 1
      return Stream.of([items[input.index]])
    }
    case "file":
      scope.io.recordsIn += 1
      return Stream.of([input.path])
    case "chunks": return Operators.readRefs(input.refs, scope.io)
    case "shuffle": throw new Error("Internal: a shuffle input is opened by its reduce")
  }
}

/** The groups of this shard's shuffle target, through the groupBy's reducer (or deduplication), pulled lazily. */
const reduce = (
  scope: TaskScope,
  op: Op.OfKind<"groupBy" | "deduplicate">,
  input: SegmentIndex.ShuffleInput,
  segments: ReadonlyArray<Segment>
): Stream.ChunkStream => {
  const reducer = op.kind === OpKind.groupBy ? scope.impl(op).reducer : undefined
  const io = scope.io
  const options = {
    tmpDir: () => `${scope.scratch()}/merge`, memoryBudgetBytes: scope.env.memoryBudgetBytes, counters: scope.ctx.counters,
    onInput: (items: number, bytes: number) => { io.recordsIn += items; io.bytesIn += bytes }
  }
  return Stream.fromSync(function* () {
    let out: Array<unknown> = []
    const groups = ShuffleReader.merged(segments, input.sorted, options)
    for (const [key, items] of groups) {
      if (!reducer) {
        const first = items[Symbol.iterator]().next()
        if (!first.done) out.push(first.value)
      } else {
        const result = scope.user(op, () => reducer(key, items))
        if (isIterator(result)) {
          // A group's output is pulled as the consumer asks, not gathered first.
          for (const chunk of Operators.userItems(scope, op, result)) {
            for (let i = 0; i < chunk.length; i++) out.push(chunk[i])
            if (out.length >= Stream.CHUNK_ITEMS) { yield out; out = [] }
          }
        } else out.push(result)
      }
      if (out.length >= Stream.CHUNK_ITEMS) { yield out; out = [] }
    }
    if (out.length > 0) yield out
  })
}

const describeFailure = (e: unknown, stage: Stage.Stage, task: Task, env: TaskEnv): { error: ZephyrWorkerError; permanent: boolean; infrastructure: boolean } => {
  const op = e instanceof UserCodeError ? e.op : undefined
  const original = e instanceof UserCodeError ? e.original : e
  const where = op ? `${op.kind}${op.name ? `(${op.name})` : ""} at ${op.source.file}:${op.source.line}` : `stage ${stage.id}`
  const base = original instanceof Error ? original.message : typeof original === "object" && original !== null && "message" in original ? String((original as { message: unknown }).message) : String(original)
  // A disk error in chunk storage (or a full disk) is the machine's: retried elsewhere, never the user's budget.
  const infrastructure = StorageError.isInfrastructure(original, env.executionDir)
  const permanent = !infrastructure && (original instanceof ZephyrWorkerError || original instanceof JoinOrderError)
  const fields = original instanceof ZephyrWorkerError ? original : undefined
  const file = fields?.file ?? op?.source.file
  const line = fields?.line ?? op?.source.line
  return {
    permanent,
    infrastructure,
    error: new ZephyrWorkerError({
      reason: original instanceof ZephyrWorkerError ? original.reason : infrastructure ? "internal" : "user-code",
      message: original instanceof ZephyrWorkerError ? base : infrastructure ? `disk error in ${where}: ${base}` : `${where} threw: ${base}`,
      stage: stage.id,
      shard: task.shard,
      attempt: task.attempt,
      worker: env.workerId,
      ...(op ? { op: op.id } : {}),
      ...(file !== undefined ? { file } : {}),
      ...(line !== undefined ? { line } : {}),
      ...(original instanceof Error && original.stack ? { cause: original.stack } : {})
    })
  }
}
