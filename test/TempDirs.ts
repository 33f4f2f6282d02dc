import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"

/**
 * Temporary directories under os.tmpdir() for one test file, removed after each test of
 * the file that calls this.
 */
export const useTempDirs = (prefix = "zephyr-test-"): (() => string) => {
  const made: Array<string> = []
  afterEach(() => {
    for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true })
  })
  return () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
    made.push(d)
    return d
  }
}
