#!/usr/bin/env node
// The `zephyr` command. Pipeline modules are TypeScript, so tsx is registered first; then
// the CLI (itself TypeScript) is loaded.
import { register } from "tsx/esm/api"

register()
const { main } = await import("../cli/main.ts")
main(process.argv)
