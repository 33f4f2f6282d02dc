/**
 * Count: how many events are purchases over 50? `count` folds each shard, gathers the
 * partial counts into one shard and folds them again.
 */
import { col, Dataset } from "zephyr"

export default Dataset.readJsonl("examples/data/events/*.jsonl")
  .filter(col("kind").eq("buy").and(col("amount").gt(50)))
  .count()
