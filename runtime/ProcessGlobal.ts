/**
 * State that must be one per process although its module may be loaded twice: the small
 * entry points that start work before the engine loads (dist/early-*.js, ES modules) and the
 * engine bundle (dist/engine.cjs) each carry a copy of the modules they share, and hand over
 * through these (the workers started ahead, the checks started ahead, the cache directory
 * found once).
 */
export const processGlobal = <A>(key: string, make: () => A): A => {
  const slot = Symbol.for(`zephyr/${key}`)
  const store = globalThis as unknown as Record<symbol, A | undefined>
  return (store[slot] ??= make())
}
