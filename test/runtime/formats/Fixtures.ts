import * as fs from "node:fs"
import * as path from "node:path"
import { useTempDirs } from "../../TempDirs.ts"
import { CounterSet, values } from "../../../runtime/task/CounterSet.ts"
import { read, type ReadRequest } from "../../../runtime/formats/Readers.ts"
import { write, type WriteRequest } from "../../../runtime/formats/Writers.ts"

/** Temporary folders for one test file, removed after each test. */
export const tempDirs = (): (() => string) => useTempDirs("zephyr-formats-")

/** A read request with the defaults a plain `loadFile` would have. */
export const readRequest = (file: string, overrides: Partial<ReadRequest> = {}): ReadRequest => ({
  path: file,
  kind: "loadFile",
  format: "auto",
  columns: null,
  filter: null,
  includeFilePaths: false,
  filePathColumn: "__file_path",
  schema: undefined,
  onBadRow: "fail",
  quarantineDir: path.join(path.dirname(file), "_quarantine"),
  counters: new CounterSet(),
  options: {},
  ...overrides
})

/** Every row of a read, with the chunk sizes seen. */
export const readAll = async (request: ReadRequest): Promise<{ rows: Array<unknown>; chunks: Array<number> }> => {
  const rows: Array<unknown> = []
  const chunks: Array<number> = []
  for await (const chunk of read(request)) {
    chunks.push(chunk.length)
    for (const r of chunk) rows.push(r)
  }
  return { rows, chunks }
}

export const readRows = async (file: string, overrides: Partial<ReadRequest> = {}): Promise<Array<unknown>> =>
  (await readAll(readRequest(file, overrides))).rows

/** Writes `items` in chunks of `chunkSize`. */
export const writeItems = (file: string, format: WriteRequest["format"], items: ReadonlyArray<unknown>, options: Readonly<Record<string, unknown>> = {}, counters = new CounterSet(), chunkSize = 1000) => {
  async function* chunks() {
    for (let i = 0; i < items.length; i += chunkSize) yield items.slice(i, i + chunkSize)
  }
  return write({ path: file, format, options, counters }, chunks())
}

export const counterValues = (c: CounterSet): Record<string, number> => values(c.snapshot())

/** The error a promise rejects with (fails the test if it resolves). */
export const rejection = async (p: Promise<unknown>): Promise<any> => {
  try {
    await p
  } catch (e) {
    return e
  }
  throw new Error("expected a rejection")
}

/** Files in a folder, hidden ones included, sorted. */
export const listDir = (dir: string): Array<string> => (fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [])
