/**
 * How many turns the event loop made while `work` was under way (setImmediate runs once
 * per turn): 0 when `work` blocked the loop from start to end. Counts turns, never time.
 */
export const ticksDuring = async <A>(work: () => Promise<A>): Promise<{ result: A; ticks: number }> => {
  let ticks = 0
  let running = true
  const tick = () => {
    if (!running) return
    ticks++
    setImmediate(tick)
  }
  setImmediate(tick)
  try {
    return { result: await work(), ticks }
  } finally {
    running = false
  }
}
