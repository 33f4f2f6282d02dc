import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/**
 * Runs that fail keep their execution directory for --resume. Tests that do not name a
 * chunk directory get this one (through $ZEPHYR_CHUNK_DIR, which worker processes and the
 * CLI inherit), removed when the suite ends, instead of the user's own default.
 */
export default function setup(): () => void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "zephyr-test-chunks-"))
  process.env.ZEPHYR_CHUNK_DIR = dir
  return () => fs.rmSync(dir, { recursive: true, force: true })
}
