import * as Plan from "../../plan/Plan.ts"
import type * as Stage from "../../plan/Stage.ts"
import type { StageDraft } from "./fuse.ts"

export interface PartitionedStage extends StageDraft {
  readonly shards: Stage.Shards
}

/**
 * Pass 5: shard counts in and out of every stage, by the same rule the coordinator applies
 * to the real file list (`Plan.shardCounts`). A file source is counted with `countSource`
 * when the caller can list files; otherwise its counts stay unknown (null).
 */
export const partition = (stages: ReadonlyArray<StageDraft>, countSource?: Plan.SourceCounter): ReadonlyArray<PartitionedStage> => {
  const shards = Plan.shardCounts(stages, countSource)
  return stages.map((stage, i) => ({ ...stage, shards: shards[i]! }))
}
