/**
 * An empty array whose elements may be anything from the start, for arrays that the data
 * plane refills for each chunk, run or file and that hold objects or strings.
 *
 * Why: a `[]` starts as an array of small integers, and changes kind when the first object or
 * string is stored in it. Code V8 had optimised for the previous array (already of any kind)
 * then met a fresh one of another kind, and was thrown away and compiled again: in a worker
 * of group-by-count reading 4 files, the shuffle writer's loop was compiled 7 times, 5 now
 * (TurboFan's compiles are a worker's own CPU when every core runs one, see
 * WorkerProcesses.compilerFlags).
 */
export const empty = <A>(): Array<A> => {
  const array: Array<unknown> = [null]
  array.length = 0
  return array as Array<A>
}
