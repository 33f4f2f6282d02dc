/**
 * The Effect library as the engine bundles it (a part of Engine.ts, with dist/effect.js its
 * facade), so that a pipeline module's `import ... from "effect"` gets the engine's own copy
 * instead of loading a second one from node_modules (a few hundred ES modules, about 0.5 s per
 * process) whose services and tags the engine would not share. See TypeScriptImport.
 */
export * from "effect"
