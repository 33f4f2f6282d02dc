/**
 * `npm run bench`: every benchmark, one JSON line per measurement on stdout. Speed and
 * memory targets are checked here, never by timed assertions in tests.
 */
import { execFileSync } from "node:child_process"

const benches: Array<[string, Array<string>]> = [
  ["bench/wordcount.ts", ["--mb", process.env.ZEPHYR_BENCH_MB ?? "100", "--files", "8", "--workers", "1,2"]],
  ["bench/shuffle.ts", []],
  ["bench/faults.ts", []]
]
for (const [file, args] of benches) {
  process.stderr.write(`== ${file}\n`)
  execFileSync(process.execPath, ["--import", "tsx", file, ...args], { stdio: ["ignore", "inherit", "inherit"] })
}
