import { Schema } from "effect"

/**
 * How a worker process rebuilds the same plan, and so finds the functions the plan's ops
 * name by id: it imports the module at `path`, builds `export` (the default export when
 * absent) with `args`, and compiles it. The driver gives it to workers in the job
 * (`JobSpec.module`) and records it in the execution directory's marker, for resume.
 */
export const ModuleRef = Schema.Struct({
  path: Schema.String,
  export: Schema.optional(Schema.String),
  args: Schema.Record({ key: Schema.String, value: Schema.String }),
  /** The module's local source files (relative path → content hash), for resume to notice changed code. */
  sources: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
})
export type ModuleRef = typeof ModuleRef.Type
