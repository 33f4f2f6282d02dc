import * as fs from "node:fs"
import type { Runtime } from "effect"
import type * as Executable from "../../executable/Executable.ts"
import * as Implementation from "../../executable/Implementation.ts"
import type * as Op from "../../plan/Op.ts"
import type { OpKind } from "../../plan/OpKind.ts"
import type * as Stage from "../../plan/Stage.ts"
import * as TaskContext from "./TaskContext.ts"
import type { ShardInput, Task } from "../../rpc/Protocol.ts"
import * as ExecutionDir from "../storage/ExecutionDir.ts"
import { attribute } from "./UserCodeError.ts"

/** What a worker gives every task it runs. */
export interface TaskEnv {
  readonly workerId: string
  readonly executionDir: string
  readonly memoryBudgetBytes: number
  /** Runs the Effects of `mapEffect` with the services of the worker's layer. */
  readonly runtime: Runtime.Runtime<any>
  readonly shared: (name: string) => unknown
}

/**
 * Everything one running task's operators and outputs share: the plan, the task, the
 * worker's environment, the user-visible context, and a scratch directory that exists
 * only once something asked for it (a spill, a merge, a materialisation), so that tiny
 * tasks touch no directories at all.
 */
export class TaskScope {
  private scratchPath: string | undefined
  /** The task's built-in counters (Protocol.StageIo), filled in by its input and its output. */
  readonly io = { recordsIn: 0, bytesIn: 0, recordsOut: 0, bytesOut: 0 }
  /** The task's input and join side; with chunks in object storage, as local copies once fetched (TaskRunner). */
  input: ShardInput
  right: ShardInput | undefined

  constructor(
    readonly exe: Executable.Executable,
    readonly stage: Stage.Stage,
    readonly task: Task,
    readonly env: TaskEnv,
    readonly ctx: TaskContext.TaskContext
  ) {
    this.input = task.input
    this.right = task.right
  }

  /** The user functions of `op`, found by the link from its kind (Implementation.linkOf). */
  impl<K extends OpKind>(op: { readonly id: string; readonly kind: K }): Implementation.For<K> {
    return Implementation.of(this.exe.implementations, op)
  }

  /** Runs user code synchronously as this task, attributing errors to `op`. */
  user<T>(op: Op.Op, f: () => T): T {
    return TaskContext.runSync(this.ctx, () => attribute(op, f))
  }

  /** The task's private scratch directory (its writers create it); removed by `cleanup`. */
  scratch(): string {
    if (this.scratchPath === undefined) this.scratchPath = ExecutionDir.scratchDir(this.env.executionDir, this.env.workerId, this.task)
    return this.scratchPath
  }

  /** Removes the scratch directory, if the task ever asked for one. */
  cleanup(): void {
    if (this.scratchPath !== undefined) fs.rmSync(this.scratchPath, { recursive: true, force: true })
  }
}
