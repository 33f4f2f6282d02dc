import { execFileSync } from "node:child_process"

/** The zephyr worker processes started by `pid` (the driver): local ones run dist/worker.js. */
export const workersOf = (pid: number): Array<number> => {
  try {
    return execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(pid)], { encoding: "utf8" }).split("\n")
      .filter((l) => l.includes("zephyr.js worker") || l.includes("dist/worker.js")).map((l) => Number(l.trim().split(/\s+/)[0]))
  } catch {
    return []
  }
}

export const alive = (pid: number): boolean => {
  try { process.kill(pid, 0); return true } catch { return false }
}

export const waitFor = async (check: () => boolean, what: string, ms = 60_000): Promise<void> => {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}
