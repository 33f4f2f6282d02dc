/**
 * Patterns the checks must leave alone: each is safe on worker processes.
 */
import { Dataset } from "zephyr"

// A constant captured by a user function; a `let` settled before the DSL call.
const threshold = 2
let scale = 1
scale = 10

// Module state a worker builds for itself and never shares (a per-process memo).
const memo = new Map<number, number>()
const slowSquare = (n: number): number => {
  const known = memo.get(n)
  if (known !== undefined) return known
  const value = n * n
  memo.set(n, value)
  return value
}

// Per-worker state that a worker's set-up (a layer) writes, and a user function reads.
const onWorkerStart = (start: () => void): { readonly start: () => void } => ({ start })
let built = 0
export const workerSetUp = onWorkerStart(() => {
  built++
})

export default (args: Record<string, string>) => {
  // A loop variable of `let` is a new binding on each pass.
  let ds = Dataset.fromList([1, 2, 3, 4])
  for (let i = 0; i < Number(args.passes ?? 1); i++) ds = ds.map((n) => n + i)
  return ds
    // Randomness in an element-wise function is the user's choice (sampling, jitter).
    .filter((n) => n > threshold || Math.random() < 2)
    .map((n) => ({ n: slowSquare(n) * scale, built, at: new Date(0), tags: new Set([n]), bytes: new Uint8Array([n]) }))
    .groupBy((r) => r.n % 2, (parity, rows) => ({ parity, count: [...rows].length, first: new Date(0) }))
    .reshard(2)
}
