import { dataError } from "./DataError.ts"

/**
 * Output file names for writers. `{shard}`, `{total}` and `{basename}` (= `shard_<i>`) are
 * replaced; a numeric placeholder takes a Python-style spec: `{shard:05d}` pads with zeros
 * to width 5, `{shard:5d}` with spaces, `{shard:d}` not at all. Runs of slashes collapse
 * to one (a leading `scheme://` is kept). With more than one shard the pattern must name
 * the shard, or every shard would write the same file.
 */
export const format = (pattern: string | ((shard: number, total: number) => string), shard: number, total: number): string => {
  if (typeof pattern === "function") {
    const out = pattern(shard, total)
    if (typeof out !== "string" || out.length === 0) {
      throw dataError(`The output path function returned ${JSON.stringify(out) ?? String(out)} for shard ${shard} of ${total}; it must return a non-empty string`)
    }
    return out
  }
  if (total > 1 && !pattern.includes("{shard") && !pattern.includes("{basename")) {
    throw dataError(`Output pattern must contain a {shard} placeholder when writing ${total} shards: ${pattern}`)
  }
  const filled = pattern.replace(/\{(shard|total|basename)(?::([^}]*))?\}/g, (whole, name: string, spec: string | undefined) => {
    if (name === "basename") return `shard_${shard}`
    return pad(name === "shard" ? shard : total, spec, pattern, whole)
  })
  return collapseSlashes(filled)
}

const pad = (n: number, spec: string | undefined, pattern: string, placeholder: string): string => {
  if (spec === undefined || spec === "" || spec === "d") return String(n)
  const m = /^(0?)(\d+)d?$/.exec(spec)
  if (!m) throw dataError(`Unsupported format spec in ${placeholder} of output pattern ${pattern}: use {shard}, {shard:05d} or {shard:5d}`)
  return String(n).padStart(Number(m[2]), m[1] === "0" ? "0" : " ")
}

const collapseSlashes = (p: string): string => {
  const scheme = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.exec(p)?.[0] ?? ""
  return scheme + p.slice(scheme.length).replace(/\/{2,}/g, "/")
}
