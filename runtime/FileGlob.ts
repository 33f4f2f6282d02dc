import * as fs from "node:fs"
import * as path from "node:path"
import type * as Source from "../compiler/plan/Source.ts"

/**
 * Glob expansion for `fromFiles`: `*`, `?`, `[...]`, `**` (any depth) and `{a,b}` braces.
 * Results are files only, deduplicated and sorted by path. Hidden entries match only a
 * pattern segment that itself starts with a dot.
 */
export const expandBraces = (pattern: string): Array<string> => {
  let depth = 0, start = -1
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === "\\") { i++; continue }
    if (c === "{") { if (depth++ === 0) start = i }
    else if (c === "}" && depth > 0 && --depth === 0) {
      const body = pattern.slice(start + 1, i)
      const parts: Array<string> = []
      let d = 0, from = 0
      for (let j = 0; j < body.length; j++) {
        if (body[j] === "{") d++
        else if (body[j] === "}") d--
        else if (body[j] === "," && d === 0) { parts.push(body.slice(from, j)); from = j + 1 }
      }
      parts.push(body.slice(from))
      if (parts.length === 1) continue
      const head = pattern.slice(0, start), tail = pattern.slice(i + 1)
      return parts.flatMap((p) => expandBraces(head + p + tail))
    }
  }
  return [pattern]
}

const isMagic = (segment: string) => /[*?[]/.test(segment)

const segmentRegex = (segment: string): RegExp => {
  let re = ""
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!
    if (c === "*") re += "[^/]*"
    else if (c === "?") re += "[^/]"
    else if (c === "[") {
      const end = segment.indexOf("]", i + 1)
      if (end < 0) { re += "\\["; continue }
      let cls = segment.slice(i + 1, end)
      if (cls.startsWith("!")) cls = "^" + cls.slice(1)
      re += `[${cls.replace(/\\/g, "\\\\")}]`
      i = end
    } else if (c === "\\" && i + 1 < segment.length) re += "\\" + segment[++i]
    else re += c.replace(/[.+^${}()|\\]/g, "\\$&")
  }
  return new RegExp(`^${re}$`)
}

const readDir = (dir: string): Array<fs.Dirent> => {
  try { return fs.readdirSync(dir, { withFileTypes: true }) } catch { return [] }
}

const isFile = (entry: fs.Dirent, full: string): boolean => {
  if (entry.isFile()) return true
  if (entry.isSymbolicLink()) { try { return fs.statSync(full).isFile() } catch { return false } }
  return false
}
const isDir = (entry: fs.Dirent, full: string): boolean => {
  if (entry.isDirectory()) return true
  if (entry.isSymbolicLink()) { try { return fs.statSync(full).isDirectory() } catch { return false } }
  return false
}

const matchSegments = (base: string, segments: ReadonlyArray<string>, out: Set<string>): void => {
  if (segments.length === 0) return
  const [seg, ...rest] = segments as [string, ...Array<string>]
  if (seg === "**") {
    // A trailing ** matches every file below, at any depth (as in bash's globstar and fast-glob).
    if (rest.length === 0) return matchSegments(base, ["**", "*"], out)
    matchSegments(base, rest, out) // zero directories
    for (const e of readDir(base)) {
      if (e.name.startsWith(".")) continue
      const full = path.join(base, e.name)
      if (isDir(e, full)) matchSegments(full, segments, out)
    }
    return
  }
  if (!isMagic(seg)) {
    const full = path.join(base, seg.replace(/\\(.)/g, "$1"))
    if (rest.length === 0) { try { if (fs.statSync(full).isFile()) out.add(full) } catch { /* no such file */ } }
    else matchSegments(full, rest, out)
    return
  }
  const re = segmentRegex(seg)
  for (const e of readDir(base)) {
    if (e.name.startsWith(".") && !seg.startsWith(".")) continue
    if (!re.test(e.name)) continue
    const full = path.join(base, e.name)
    if (rest.length === 0) { if (isFile(e, full)) out.add(full) }
    else if (isDir(e, full)) matchSegments(full, rest, out)
  }
}

/** The files matching `pattern`, sorted. Relative patterns resolve against `cwd` and stay relative. */
export const glob = (pattern: string, cwd: string = process.cwd()): Array<string> => {
  const out = new Set<string>()
  for (const p of expandBraces(pattern)) {
    const absolute = path.isAbsolute(p)
    const segments = p.split("/").filter((s) => s.length > 0 && s !== ".")
    const found = new Set<string>()
    matchSegments(absolute ? path.parse(p).root : cwd, segments, found)
    for (const f of found) out.add(absolute ? f : path.relative(cwd, f).split(path.sep).join("/"))
  }
  return [...out].sort()
}

/**
 * The shards of a source as the driver and every worker count them when they compile: a
 * file source has one per file listed now (a default shard count derived from it is baked
 * into the plan, so both sides must resolve it the same way, or their fingerprints differ).
 */
export const countSourceShards = (source: Source.Source): number | null =>
  source.kind === "list" ? source.count : glob(source.pattern).length
