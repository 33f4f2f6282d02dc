import { Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as RunOptions from "../runtime/RunOptions.ts"
import { ZephyrPlanError } from "../plan/Errors.ts"
import * as ChunkDir from "../runtime/storage/ChunkDir.ts"
import * as StoragePath from "../runtime/storage/StoragePath.ts"
import * as GarbageCollection from "../runtime/storage/GarbageCollection.ts"
import * as OptionValues from "./OptionValues.ts"

const chunkDir = OptionValues.text(["gc"], "chunk-dir").pipe(Options.optional, Options.map(Option.getOrUndefined),
  Options.withDescription("the chunk directory to clean (default: $ZEPHYR_CHUNK_DIR, else <tmp>/zephyr-<uid>/chunks)"))
const olderThan = OptionValues.text(["gc"], "older-than").pipe(Options.optional, Options.map(Option.getOrUndefined),
  Options.withDescription(`remove executions last used longer ago than this, e.g. 12h or 7d (default ${RunOptions.defaults.gcOlderThanMs / 86_400_000}d)`))
const dryRun = OptionValues.boolean(["gc"], "dry-run").pipe(Options.withDescription("only say what would be removed"))

const labels = { removed: "removed", "would-remove": "would remove", kept: "kept" } as const

/**
 * `zephyr gc [--chunk-dir D] [--older-than 7d] [--dry-run]`: removes old execution
 * directories kept for --resume; one line per entry on stdout, then a summary.
 */
export const command = Command.make("gc", { chunkDir, olderThan, dryRun }, (o) =>
  Effect.gen(function* () {
    const dir = o.chunkDir ? StoragePath.resolve(o.chunkDir) : ChunkDir.defaultPath()
    if (StoragePath.isS3(dir)) {
      return yield* Effect.fail(new ZephyrPlanError({
        reason: "invalid-option",
        message: `zephyr gc cleans local chunk directories only; ${dir} is in object storage: expire kept executions there with a lifecycle rule on the prefix (e.g. delete objects older than 7 days), or remove one with your store's tools.`
      }))
    }
    const olderThanMs = yield* Effect.try({
      try: () => (o.olderThan === undefined ? RunOptions.defaults.gcOlderThanMs : RunOptions.parseDuration("--older-than", o.olderThan)),
      catch: (e) => e
    })
    const entries = yield* Effect.try({ try: () => GarbageCollection.collect(dir, { olderThanMs, dryRun: o.dryRun }), catch: (e) => e })
    const width = Math.max(0, ...entries.map((e) => labels[e.outcome].length))
    const lines = entries.map((e) => `${labels[e.outcome].padEnd(width)}  ${e.name}  (${e.detail})\n`)
    const count = (k: GarbageCollection.Entry["outcome"]) => entries.filter((e) => e.outcome === k).length
    const summary = o.dryRun
      ? `${dir}: would remove ${count("would-remove")}, keep ${count("kept")} (dry run: nothing removed)`
      : `${dir}: removed ${count("removed")}, kept ${count("kept")}`
    yield* Effect.sync(() => process.stdout.write(lines.join("") + summary + "\n"))
  })
).pipe(Command.withDescription("Remove old execution directories that failed or interrupted runs kept for --resume"))
