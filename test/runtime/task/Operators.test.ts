import { SchemaAST } from "effect"
import { describe, expect, it } from "vitest"
import * as Op from "../../../plan/Op.ts"
import * as Operators from "../../../runtime/task/Operators.ts"

/** Every `kind` literal of the Op schema's union members. */
const schemaKinds = (): Array<string> => {
  const kinds: Array<string> = []
  for (const member of Op.Op.members) {
    const ast = member.ast
    if (!SchemaAST.isTypeLiteral(ast)) throw new Error("an Op member is not a struct")
    const kind = ast.propertySignatures.find((p) => p.name === "kind")
    if (kind === undefined) throw new Error("an Op member has no kind")
    const t = kind.type
    const literals = SchemaAST.isUnion(t) ? t.types : [t]
    for (const l of literals) if (SchemaAST.isLiteral(l)) kinds.push(String(l.literal))
  }
  return kinds
}

describe("operator table", () => {
  it("has an entry for every op kind of plan/Op.ts, and nothing else", () => {
    const kinds = schemaKinds()
    expect(kinds.length).toBeGreaterThan(15)
    expect(Object.keys(Operators.table).sort()).toEqual([...new Set(kinds)].sort())
    for (const k of kinds) expect(typeof (Operators.table as Record<string, unknown>)[k]).toBe("function")
  })
})
