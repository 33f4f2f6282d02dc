/**
 * Whole commands, timed as a user would time them: from spawn to exit, start-up included.
 * A command that fails fails the bench, with the tail of its stderr.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"

export interface Finished {
  readonly seconds: number
  readonly stdout: string
  readonly stderr: string
  /** Peak resident memory (VmHWM, MB) of each descendant process whose command line matched `watch`, by pid. */
  readonly peakRssMB: ReadonlyMap<number, number>
}

export interface RunOptions {
  readonly cwd: string
  readonly env?: Record<string, string> | undefined
  /** Samples the peak RSS of descendants whose command line matches this (Linux /proc). */
  readonly watch?: RegExp | undefined
}

const tail = (text: string, lines = 30) => text.trimEnd().split("\n").slice(-lines).join("\n")

/** Pid → parent pid of every process, from /proc. */
const parents = (): Map<number, number> => {
  const out = new Map<number, number>()
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, "utf8")
      // the command name in parentheses may hold spaces: fields start after the last ")"
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
      out.set(Number(name), ppid)
    } catch { /* exited meanwhile */ }
  }
  return out
}

/** Every process below `root` (children, grandchildren, ...). */
export const descendants = (root: number): Array<number> => {
  const byParent = new Map<number, Array<number>>()
  for (const [pid, ppid] of parents()) byParent.set(ppid, [...(byParent.get(ppid) ?? []), pid])
  const out: Array<number> = []
  const visit = (pid: number) => { for (const c of byParent.get(pid) ?? []) { out.push(c); visit(c) } }
  visit(root)
  return out
}

const commandLine = (pid: number): string => {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ") } catch { return "" }
}

const peakRss = (pid: number): number | undefined => {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
    return m ? Number(m[1]) / 1024 : undefined
  } catch { return undefined }
}

/** Runs `node args...` in `cwd` and waits for it; rejects on a non-zero exit. */
export const node = (args: ReadonlyArray<string>, options: RunOptions): Promise<Finished> =>
  command(process.execPath, args, options)

export const command = (file: string, args: ReadonlyArray<string>, options: RunOptions): Promise<Finished> =>
  new Promise((resolve, reject) => {
    const t0 = performance.now()
    const child = spawn(file, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (b: Buffer) => stdout.push(b))
    child.stderr.on("data", (b: Buffer) => stderr.push(b))
    const peaks = new Map<number, number>()
    const watch = options.watch
    // VmHWM only grows, so the last sample of a process is its peak up to ~50 ms before it exits
    const sampler = watch === undefined || child.pid === undefined ? undefined : setInterval(() => {
      for (const pid of descendants(child.pid!)) {
        if (!watch.test(commandLine(pid))) continue
        const mb = peakRss(pid)
        if (mb !== undefined) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, mb))
      }
    }, 50)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      const seconds = (performance.now() - t0) / 1000
      if (sampler) clearInterval(sampler)
      const out = Buffer.concat(stdout).toString("utf8")
      const err = Buffer.concat(stderr).toString("utf8")
      if (code !== 0) {
        reject(new Error(`command failed (${signal ?? `exit code ${code}`}): ${[file, ...args].join(" ")}\n${tail(err)}`))
        return
      }
      resolve({ seconds, stdout: out, stderr: err, peakRssMB: peaks })
    })
  })
