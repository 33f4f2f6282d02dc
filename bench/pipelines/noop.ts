/**
 * No-op tasks: `n` items, each its own shard (so `n` tasks), mapped by the identity and
 * returned to the driver. With n=1 it is the cheapest run there is: start-up alone.
 *   zephyr run bench/pipelines/noop.ts --arg n=10000 --print-results
 */
import { Dataset, Pipeline } from "zephyr"

export const identity = (i: number): number => i

export default Pipeline.define((args) =>
  Dataset.fromList(Array.from({ length: Pipeline.intArg(args, "n", 1) }, (_, i) => i)).map(identity))
