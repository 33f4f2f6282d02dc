import * as fs from "node:fs"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { useTempDirs as useTempDirsUnder } from "../TempDirs.ts"

/** Temporary directories, removed after each test of the file that calls `useTempDirs()`. */
export const useTempDirs = (): (() => string) => useTempDirsUnder("zephyr-acceptance-")

/** Writes `content` to `file` (parents created); `.gz` files are gzipped. */
export const writeFile = (file: string, content: string): string => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, file.endsWith(".gz") ? zlib.gzipSync(content) : content)
  return file
}

export const jsonl = (rows: ReadonlyArray<unknown>): string => rows.map((r) => JSON.stringify(r) + "\n").join("")

/** Reads a file written by a writer (gunzipped when `.gz`). */
export const readFile = (file: string): string => {
  const bytes = fs.readFileSync(file)
  return (file.endsWith(".gz") ? zlib.gunzipSync(bytes) : bytes).toString("utf8")
}

export const readJsonlFile = (file: string): Array<unknown> =>
  readFile(file).split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l))

/** Files directly under `dir`, sorted, hidden ones (temporary files) included. */
export const listDir = (dir: string): Array<string> => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [])

/** A total order on JSON-able values, for sorting results whose order is unspecified. */
export const sortedJson = <T>(items: ReadonlyArray<T>): Array<T> =>
  [...items].sort((a, b) => {
    const x = JSON.stringify(a), y = JSON.stringify(b)
    return x < y ? -1 : x > y ? 1 : 0
  })

export const sortedNumbers = (items: ReadonlyArray<number>): Array<number> => [...items].sort((a, b) => a - b)

/** The rejection of a promise (fails the test when it resolves). */
export const rejection = async (p: Promise<unknown>): Promise<any> => {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error("expected the run to be rejected, but it succeeded")
}
