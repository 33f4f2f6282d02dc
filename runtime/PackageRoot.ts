import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The directory of Zephyr's own package.json. The engine runs from its sources (tests,
 * type-checking) and from the bundle in dist/ (what users run), where a module's file is
 * somewhere else: so paths to the engine's files are found from here, not relative to a
 * module.
 */
const find = (): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url))
  while (true) {
    const manifest = path.join(dir, "package.json")
    if (fs.existsSync(manifest) && (JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string }).name === "zephyr") return dir
    const parent = path.dirname(dir)
    if (parent === dir) throw new Error(`Zephyr's package.json was not found above ${fileURLToPath(import.meta.url)}`)
    dir = parent
  }
}

export const root: string = find()

/** The built engine. */
export const dist: string = path.join(root, "dist")
