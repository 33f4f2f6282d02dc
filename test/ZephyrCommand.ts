import { type ChildProcess, spawn } from "node:child_process"

/** A `zephyr` command running as a user runs it, with its output kept as it arrives. */
export interface Running {
  readonly child: ChildProcess
  readonly exit: Promise<number | null>
  readonly stdout: () => string
  readonly stderr: () => string
}

/**
 * Starts `zephyr ARGS` (bin/zephyr.js, the built code) with this process's environment minus
 * its token, plus `env`; the child goes into `children`, which the test kills after each test.
 */
export const start = (args: ReadonlyArray<string>, env: Readonly<Record<string, string>>, children: Array<ChildProcess>): Running => {
  const { ZEPHYR_TOKEN: _, ...rest } = process.env
  const child = spawn(process.execPath, ["bin/zephyr.js", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...rest, ...env } })
  children.push(child)
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d) => { stdout += d })
  child.stderr!.on("data", (d) => { stderr += d })
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  return { child, exit, stdout: () => stdout, stderr: () => stderr }
}
