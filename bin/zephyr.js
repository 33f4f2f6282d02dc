#!/usr/bin/env node
// The `zephyr` command. The engine runs as the JavaScript built into dist/ (on `npm ci`, or
// `npm run build`); the TypeScript loader is installed only when a pipeline module is loaded.
import { readFileSync } from "node:fs"

const args = process.argv.slice(2)
if (args.length === 1 && (args[0] === "--version" || args[0] === "-v")) {
  // Answered without loading the engine.
  process.stdout.write(`${JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version}\n`)
} else {
  let cli
  try {
    // A worker's heap is made: its size flags go back to V8's defaults before any code compiles (see runtime/RuntimeV8Flags.ts).
    if (args[0] === "worker") (await import("../dist/runtime-v8-flags.js")).settleHeapSizes()
    // Worker processes for `zephyr run` start now, while the engine loads here.
    if (args[0] === "run") (await import("../dist/early-workers.js")).startFromCommandLine(args.slice(1))
    // The module's static checks start too (a thread, on a cold cache).
    if (args[0] === "run" || args[0] === "compile" || args[0] === "check") (await import("../dist/early-checks.js")).startFromCommandLine(args)
    // A plain `zephyr worker` line starts without the command-line parser: the worker registers sooner.
    if (args[0] === "worker" && (await import("../dist/worker-command.js")).startFromCommandLine(args.slice(1))) cli = null
    else cli = await import("../dist/cli.js")
  } catch (e) {
    if (e?.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("dist")) throw e
    process.stderr.write("zephyr: the engine is not built (dist/ is missing or incomplete): run `npm run build` (npm ci does it).\n")
    process.exit(1)
  }
  cli?.main(process.argv)
}
