import { Schema } from "effect"

/**
 * A suggestion `zephyr compile --explain` makes about a pipeline that works but could run
 * better, as data: what (`code`, `message`), where (`file:line:column` of the DSL call, as
 * the plan records it, and the plan's `op` and `stage`), and how to do better (`fix`).
 * Advice is never an error: it changes no exit code and refuses nothing. Advisor makes it.
 */

export const Code = Schema.Literal(
  /** A groupBy whose reducer only sums or counts, without a combiner: every item crosses the shuffle. */
  "groupby-without-combiner",
  /** A reshard right after a read: every row is copied through chunk files before any work. */
  "reshard-after-read",
  /** A filter right after a map, reading only fields the map copies unchanged: it could run first. */
  "filter-after-map",
  /** A mapShard after a mapEffect in the same stage: the whole shard is gathered first. */
  "gather-after-async"
)
export type Code = typeof Code.Type

export const codes: ReadonlyArray<Code> = Code.literals

export const Advice = Schema.Struct({
  code: Code,
  /** The plan op the advice is about (`o3`), and the stage it runs in (a groupBy's: its scatter stage). */
  op: Schema.String,
  stage: Schema.Number,
  /** What could be better and why, in one sentence. */
  message: Schema.String,
  /** What to write instead. */
  fix: Schema.String,
  file: Schema.String,
  line: Schema.Number,
  column: Schema.Number
})
export type Advice = typeof Advice.Type

export const Advices = Schema.Array(Advice)

export const location = (a: Pick<Advice, "file" | "line" | "column">): string => `${a.file}:${a.line}:${a.column}`
