/**
 * The default memory budget of a task (`memoryBudget`): the shuffle spills past it, and a
 * local worker's heap is sized from it. A module of its own, so that the `zephyr` command can
 * size workers it starts before it loads the engine.
 */
export const defaultBytes: number = 256 * 2 ** 20
