/**
 * What a single worker fault costs in wall time: the soak pipeline (groupBy + join, ~10 s)
 * on 2 local workers, fault-free, then with one worker SIGKILLed (noticed at once as a
 * process exit) or SIGSTOPped (noticed only by the heartbeat timeout), with the default
 * timeout and with a 2 s one. The default-timeout SIGSTOP case takes minutes: `--slow`.
 *   npx tsx bench/faults.ts [--slow]
 */
import { spawn } from "node:child_process"
import { workersOf } from "../test/faults/Processes.ts"

const slow = process.argv.includes("--slow")

const run = async (fault: "none" | "SIGKILL" | "SIGSTOP", heartbeatTimeout: string | undefined): Promise<number> => {
  const args = ["bin/zephyr.js", "run", "test/faults/fixtures/soak.ts", "--workers", "2", "--no-progress", "--arg", "workMs=2",
    "--heartbeat-interval", "1s", ...(heartbeatTimeout ? ["--heartbeat-timeout", heartbeatTimeout] : [])]
  const t0 = performance.now()
  const driver = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "inherit"] })
  const done = new Promise<number | null>((resolve) => driver.on("exit", (code) => resolve(code)))
  if (fault !== "none") {
    // hit a worker 4 s in, when both are busy with the first stage
    await new Promise((r) => setTimeout(r, 4_000))
    const victim = workersOf(driver.pid!)[0]
    if (victim) process.kill(victim, fault)
  }
  const code = await done
  if (code !== 0) throw new Error(`run failed with exit code ${code}`)
  return (performance.now() - t0) / 1000
}

const baseline = await run("none", undefined)
console.log(JSON.stringify({ bench: "faults", fault: "none", seconds: Number(baseline.toFixed(2)) }))
const cases: Array<["SIGKILL" | "SIGSTOP", string | undefined]> = [["SIGKILL", undefined], ["SIGKILL", "2s"], ["SIGSTOP", "2s"], ...(slow ? [["SIGSTOP", undefined] as ["SIGSTOP", undefined]] : [])]
for (const [fault, timeout] of cases) {
  const seconds = await run(fault, timeout)
  console.log(JSON.stringify({ bench: "faults", fault, heartbeatTimeout: timeout ?? "120s (default)", seconds: Number(seconds.toFixed(2)), extraSeconds: Number((seconds - baseline).toFixed(2)) }))
}
