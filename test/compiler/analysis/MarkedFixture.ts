import * as fs from "node:fs"

/**
 * The calls a fixture marks with what the analysis must find, as `line: a, b`: each line
 * ending in `) // <marker>: a, b`; a line marked `// <marker>: ?`, where the analysis must
 * give up, is left out.
 */
export const marked = (fixture: string, marker: string): Array<string> =>
  fs.readFileSync(fixture, "utf8").split("\n").flatMap((line, i) => {
    const m = new RegExp(`\\) // ${marker}:(.*)$`).exec(line)
    if (!m) return []
    const fields = m[1]!.trim()
    return fields === "?" ? [] : [`${i + 1}: ${fields.split(",").map((f) => f.trim()).filter((f) => f !== "").join(", ")}`]
  })
