/** Imports Effect itself: checked with Effect's real declarations from the start. */
import { Effect } from "effect"
import { Dataset } from "zephyr"

export default Dataset.fromList([1, 2, 3]).mapEffect((n) => Effect.succeed(n + 1))
