/**
 * Apache Beam's TypeScript SDK is not a dependency of Zephyr: the word-count workload
 * installs it on demand into a cache folder outside the repository, once, with npm.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export const prefix = path.join(os.homedir(), ".cache", "zephyr-bench", "beam")

export type Installed = { readonly prefix: string; readonly version: string; readonly problem?: undefined } | { readonly prefix?: undefined; readonly problem: string }

const installedVersion = (): string | undefined => {
  try {
    return JSON.parse(fs.readFileSync(path.join(prefix, "node_modules", "apache-beam", "package.json"), "utf8")).version
  } catch {
    return undefined
  }
}

const npm = (args: ReadonlyArray<string>, timeout: number): string =>
  execFileSync("npm", args, { encoding: "utf8", timeout, stdio: ["ignore", "pipe", "pipe"] }).trim()

/** The installed SDK, installing the registry's latest version first when there is none. */
export const ensure = async (log: (line: string) => void): Promise<Installed> => {
  const present = installedVersion()
  if (present) return { prefix, version: present }
  try {
    const version = npm(["view", "apache-beam", "version"], 60_000)
    log(`installing apache-beam@${version} into ${prefix} (once)`)
    fs.mkdirSync(prefix, { recursive: true })
    npm(["install", "--prefix", prefix, "--no-audit", "--no-fund", `apache-beam@${version}`], 600_000)
    const installed = installedVersion()
    return installed ? { prefix, version: installed } : { problem: `npm installed apache-beam@${version} but ${prefix}/node_modules/apache-beam is missing` }
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr ?? ""
    return { problem: `apache-beam could not be installed into ${prefix}: ${String((e as Error).message).split("\n")[0]} ${stderr.trim().split("\n").slice(-3).join(" ")}` }
  }
}
