/**
 * Uses an Effect that the engine's API returns, without importing Effect: type-checked
 * with stand-ins for Effect's types it would fail (they have no `pipe`), so the checks
 * must ask again with the real ones and find nothing.
 */
import { Dataset, Zephyr } from "zephyr"

const ds = Dataset.fromList([1, 2, 3]).map((n) => n * 2)

export const program = Zephyr.execute(ds).pipe((effect) => effect)

export default ds
