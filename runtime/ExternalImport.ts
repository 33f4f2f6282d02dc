import { processGlobal } from "./ProcessGlobal.ts"

/**
 * `import()` of a module outside the engine: a package left out of the bundle (esbuild,
 * the Kubernetes client) or a compiled pipeline module. The engine bundle (dist/engine.cjs)
 * runs as a script compiled with a V8 code cache (EngineLoader), where `import()` has no
 * loader of its own; EngineLoader lends it the import of an ES module beside the bundle in
 * dist/, so a bare name resolves as it would from the engine. Elsewhere (the sources, under
 * a test runner) this is a plain `import()`.
 */
const lent = processGlobal("ExternalImport/importer", (): { current: ((specifier: string) => Promise<unknown>) | undefined } => ({ current: undefined }))

export const lend = (importer: (specifier: string) => Promise<unknown>): void => {
  lent.current = importer
}

export const load = <A = Record<string, unknown>>(specifier: string): Promise<A> =>
  (lent.current ? lent.current(specifier) : import(specifier)) as Promise<A>
