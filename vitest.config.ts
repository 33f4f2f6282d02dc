import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Timing-sensitive tests run alone afterwards (vitest.serial.config.ts), away from
    // the CPU contention of the other files' worker processes.
    exclude: ["test/**/*.serial.test.ts", "node_modules/**"],
    // Failed runs keep their chunks: a suite-wide chunk directory, removed at the end.
    globalSetup: ["test/ChunkDirSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Multi-process tests start real worker processes; two test files at a time keeps a
    // 2-core machine responsive enough for heartbeats.
    maxWorkers: 2,
    minWorkers: 1,
    // `import "zephyr"` gets the built engine (dist/), loaded by Node as users load it,
    // not re-transformed by Vite.
    server: { deps: { external: [/\/dist\//] } }
  }
})
