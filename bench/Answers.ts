/**
 * What a run computed, read back from its output files the same way for every contender:
 * the number of records and an order-independent checksum of each record's canonical
 * form (the fields that matter, in a fixed order), so a baseline that writes keys in
 * another order or splits files differently still agrees with Zephyr.
 */
import * as fs from "node:fs"
import * as path from "node:path"

export interface Digest {
  readonly records: number
  /** The sum, modulo 2^32, of a 32-bit hash of each record's canonical form. */
  readonly checksum: number
}

const fnv1a = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

/** Every output file under `dir` (not hidden: writers keep temporaries hidden). */
export const outputFiles = (dir: string): Array<string> =>
  fs.readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => !path.basename(f).startsWith(".") && /\.(jsonl|json)$/.test(f))
    .map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).isFile())

/** Digests lines of JSON (files or stdout text). */
export const ofLines = (lines: Iterable<string>, canonical: (record: any) => string): Digest => {
  let records = 0
  let checksum = 0
  for (const line of lines) {
    if (line.trim() === "") continue
    records++
    checksum = (checksum + fnv1a(canonical(JSON.parse(line)))) % 2 ** 32
  }
  return { records, checksum }
}

const linesOf = function* (files: ReadonlyArray<string>): Generator<string> {
  for (const f of files) yield* fs.readFileSync(f, "utf8").split("\n")
}

export const ofDir = (dir: string, canonical: (record: any) => string): Digest => ofLines(linesOf(outputFiles(dir)), canonical)

/** Group-by-count style outputs: records `{ [key]: string, count: number }`, with the total count too. */
export const ofCounts = (dir: string, key: string): Digest & { readonly total: number } => {
  let total = 0
  const digest = ofDir(dir, (r) => {
    total += Number(r.count)
    return `${r[key]}\t${Number(r.count)}`
  })
  return { ...digest, total }
}
