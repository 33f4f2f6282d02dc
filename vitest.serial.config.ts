import { defineConfig } from "vitest/config"

/**
 * Tests whose subject is timing under load (64 workers against a deliberately stalled
 * coordinator): run one file at a time after the main suite, so that the only load is the
 * one the test makes.
 */
export default defineConfig({
  test: {
    include: ["test/**/*.serial.test.ts"],
    // Failed runs keep their chunks: a suite-wide chunk directory, removed at the end.
    globalSetup: ["test/ChunkDirSetup.ts"],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    maxWorkers: 1,
    minWorkers: 1,
    server: { deps: { external: [/\/dist\//] } }
  }
})
