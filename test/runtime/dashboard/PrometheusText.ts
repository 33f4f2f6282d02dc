/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: it throws on
 * anything the format does not allow (a bad metric or label name, an unescaped or unknown
 * escape, a missing or bad value, a TYPE after the family's samples, a family split in two,
 * a repeated series, a sample whose name belongs to no TYPE line, a missing final newline).
 * https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly type: "counter" | "gauge" | "histogram" | "summary" | "untyped"
  readonly help: string | undefined
  readonly samples: ReadonlyArray<Sample>
}

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const types = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

const parseValue = (text: string, where: string): number => {
  if (text === "NaN") return NaN
  if (text === "+Inf") return Infinity
  if (text === "-Inf") return -Infinity
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`${where}: bad value ${JSON.stringify(text)}`)
  return Number(text)
}

/** `{a="x",b="y"}` starting at `i`: the labels and the index after `}`. */
const parseLabels = (line: string, i: number, where: string): [Record<string, string>, number] => {
  const labels: Record<string, string> = {}
  i++ // {
  while (true) {
    if (line[i] === "}") return [labels, i + 1]
    const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))
    if (!m) throw new Error(`${where}: bad label name at column ${i}`)
    const name = m[0]
    i += name.length
    if (line[i] !== "=" || line[i + 1] !== "\"") throw new Error(`${where}: expected ="... after label ${name}`)
    i += 2
    let value = ""
    while (true) {
      const c = line[i]
      if (c === undefined) throw new Error(`${where}: unterminated label value`)
      if (c === "\"") { i++; break }
      if (c === "\\") {
        const e = line[i + 1]
        if (e === "\\") value += "\\"
        else if (e === "\"") value += "\""
        else if (e === "n") value += "\n"
        else throw new Error(`${where}: bad escape \\${e ?? ""} in label ${name}`)
        i += 2
        continue
      }
      value += c
      i++
    }
    if (name in labels) throw new Error(`${where}: label ${name} repeated`)
    labels[name] = value
    if (line[i] === ",") { i++; if (line[i] === "}") return [labels, i + 1]; continue }
    if (line[i] !== "}") throw new Error(`${where}: expected , or } after label ${name}`)
  }
}

export const parse = (text: string): Map<string, Family> => {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("the exposition must end with a line feed")
  const families = new Map<string, { name: string; type: Family["type"] | undefined; help: string | undefined; samples: Array<Sample>; closed: boolean }>()
  const series = new Set<string>()
  let current: string | undefined
  const family = (name: string) => {
    let f = families.get(name)
    if (!f) { f = { name, type: undefined, help: undefined, samples: [], closed: false }; families.set(name, f) }
    if (current !== undefined && current !== name) families.get(current)!.closed = true
    if (f.closed) throw new Error(`metric family ${name} appears in two places`)
    current = name
    return f
  }
  text.split("\n").slice(0, -1).forEach((line, n) => {
    const where = `line ${n + 1}`
    if (line.trim() === "") return
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
      if (!m) return // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string]
      if (!metricName.test(name)) throw new Error(`${where}: bad metric name ${name}`)
      const f = family(name)
      if (kind === "TYPE") {
        if (!types.has(rest)) throw new Error(`${where}: unknown type ${rest}`)
        if (f.type !== undefined) throw new Error(`${where}: second TYPE for ${name}`)
        if (f.samples.length > 0) throw new Error(`${where}: TYPE for ${name} after its samples`)
        f.type = rest as Family["type"]
      } else {
        if (f.help !== undefined) throw new Error(`${where}: second HELP for ${name}`)
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ""))) throw new Error(`${where}: bad escape in HELP`)
        f.help = rest
      }
      return
    }
    const m = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
    if (!m) throw new Error(`${where}: bad metric name in ${JSON.stringify(line)}`)
    const name = m[0]
    let i = name.length
    let labels: Record<string, string> = {}
    if (line[i] === "{") [labels, i] = parseLabels(line, i, where)
    if (line[i] !== " ") throw new Error(`${where}: expected a space before the value`)
    const parts = line.slice(i + 1).split(" ")
    if (parts.length > 2 || parts[0] === "") throw new Error(`${where}: expected a value and an optional timestamp`)
    const value = parseValue(parts[0]!, where)
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp ${parts[1]}`)
    for (const l of Object.keys(labels)) if (!labelName.test(l) || l.startsWith("__")) throw new Error(`${where}: bad label name ${l}`)
    const base = families.has(name) ? name : name.replace(/_(sum|count|bucket)$/, "")
    const f = family(base)
    if (f.type === undefined) throw new Error(`${where}: sample ${name} has no TYPE line before it`)
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (series.has(key)) throw new Error(`${where}: series ${key} repeated`)
    series.add(key)
    f.samples.push({ name, labels, value })
  })
  const out = new Map<string, Family>()
  for (const [k, f] of families) out.set(k, { name: f.name, type: f.type ?? "untyped", help: f.help, samples: f.samples })
  return out
}
