import * as fs from "node:fs"
import * as path from "node:path"
import { randomUUID } from "node:crypto"

/**
 * Writes a small file so that readers see the old file or the whole new one, never a part:
 * a temporary name in the same directory, then a rename. Parent directories are created.
 */
export const writeFileSync = (file: string, data: string | Uint8Array): void => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${randomUUID().slice(0, 8)}`
  try {
    fs.writeFileSync(tmp, data)
    fs.renameSync(tmp, file)
  } catch (e) {
    fs.rmSync(tmp, { force: true })
    throw e
  }
}
