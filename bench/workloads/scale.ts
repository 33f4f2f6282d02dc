/**
 * Scale: the coordinator against 1,000 simulated workers in 4 processes, 10,000 map shards
 * and a 1,000-way shuffle (bench/scale/Simulation.ts, run as its own process so that its
 * CPU time and RSS are the coordinator's alone). Reports Pull round trips (p50, p99),
 * coordinator CPU and peak RSS; fails when a worker is declared dead, a shard does not run
 * exactly once, or a reducer is handed more than its own segment list.
 * Targets: no false deaths; p99 of a Pull that hands out work ≤ 1 s.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import type * as Simulation from "../scale/Simulation.ts"
import * as Workload from "../Workload.ts"

export const name = "scale"

const CONTENDER = "coordinator, 1000 simulated workers"

const simulate = (repo: string): Promise<Simulation.Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join("bench", "scale", "Simulation.ts"),
      "--workers", "1000", "--processes", "4", "--shards", "10000", "--targets", "1000"], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = "", stderr = ""
    child.stdout.on("data", (d) => { stdout += d })
    child.stderr.on("data", (d) => { stderr += d })
    child.on("exit", (code) => {
      // The result is the last thing on stdout; the coordinator's log lines (a warning of a stall, say) may come before it.
      const at = stdout.startsWith("{") ? 0 : stdout.lastIndexOf("\n{") + 1
      if (code === 0 && at >= 0) {
        process.stderr.write(stderr + stdout.slice(0, at))
        resolve(JSON.parse(stdout.slice(at)) as Simulation.Result)
      }
      else reject(new Error(`the simulation exited with ${code}: ${stderr.slice(-3000)}`))
    })
  })

export const make: Workload.Make = async (context) => ({
  name,
  title: "scale: 1,000 simulated workers, 10,000 map shards, a 1,000-way shuffle",
  contenders: [{
    name: CONTENDER,
    zephyr: true,
    run: async () => {
      const r = await simulate(context.repo)
      if (r.errors.length > 0) throw new Error(`simulated workers failed: ${r.errors.slice(0, 3).join("; ")}`)
      if (r.shardsNotRunOnce > 0 || r.badLists > 0) throw new Error(`${r.shardsNotRunOnce} shard(s) did not run exactly once; ${r.badLists} reducer(s) got another target's segments`)
      context.log(`      register ${r.registerSeconds.toFixed(1)} s, map ${r.mapSeconds.toFixed(1)} s, reduce ${r.reduceSeconds.toFixed(1)} s; Pull p50 ${r.pullP50Ms.toFixed(1)} ms, p99 ${r.pullP99Ms.toFixed(1)} ms; coordinator CPU ${r.coordinatorCpuSeconds.toFixed(1)} s, peak RSS ${r.coordinatorPeakRssMB} MB; idle pulls ${r.idlePulls}; false deaths ${r.falseDeaths}`)
      return {
        seconds: r.seconds,
        answer: { shardsRunOnce: r.mapShards + r.targets - r.shardsNotRunOnce },
        detail: {
          registerSeconds: r.registerSeconds, mapSeconds: r.mapSeconds, reduceSeconds: r.reduceSeconds,
          pullP50Ms: r.pullP50Ms, pullP99Ms: r.pullP99Ms, pullMaxMs: r.pullMaxMs, idlePulls: r.idlePulls, heartbeats: r.heartbeats,
          coordinatorCpuSeconds: r.coordinatorCpuSeconds, coordinatorPeakRssMB: r.coordinatorPeakRssMB, falseDeaths: r.falseDeaths, retries: r.retries
        }
      }
    }
  }],
  targets: (results) => [
    { name: "workers falsely declared dead", value: Workload.detail(results, CONTENDER, "falseDeaths"), unit: "", limit: 0, atMost: true },
    { name: "p99 Pull that hands out work (ms)", value: Workload.detail(results, CONTENDER, "pullP99Ms"), unit: "ms", limit: 1_000, atMost: true }
  ]
})
