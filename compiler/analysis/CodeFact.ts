import type * as Nodes from "./Nodes.ts"

/**
 * What the analyzer reads in the code of a DSL call for explain's advice (Advisor): plain
 * data, found in the analysis thread and cached with the findings (DiagnosticCache). Like
 * a finding, a fact names its DSL call by the position of the method's name, which is
 * where the DSL records the call's location, so cached facts serve any args.
 */
export type CodeFact = ReducerAccumulates | CombinerSums | MapCopies | ItemReads

/** What one step of an accumulation adds: 1, the item itself, a field of the item, or anything else. */
export type Added =
  | { readonly kind: "one" }
  | { readonly kind: "item" }
  | { readonly kind: "field"; readonly field: string }
  | { readonly kind: "value" }

export interface Accumulator {
  /** The property of the returned object that holds it; null when the reducer returns it as it is. */
  readonly property: string | null
  readonly adds: Added
}

/**
 * A groupBy reducer that only sums or counts: it returns accumulations over the items
 * (a loop of `+=`/`++`, a `reduce` of `+`, a `.length`), and otherwise only the key or
 * literals.
 */
export interface ReducerAccumulates {
  readonly kind: "reducer-accumulates"
  readonly call: Nodes.Position
  /** The reducer's name as passed (`sumCounts`); null for an inline function. */
  readonly reducer: string | null
  /** The names the reducer gives its parameters and the items it loops over, for a fix that reads like the user's code. */
  readonly keyName: string
  readonly itemsName: string
  readonly itemName: string
  readonly accumulators: ReadonlyArray<Accumulator>
  /** Whether the reducer's result type is assignable to the item type (so it can serve as its own combiner). */
  readonly returnsItem: boolean
}

/**
 * A groupBy combiner that returns one item whose `fields` are the sums of the same fields of
 * its items (`count += w.count` in a loop over them, or a `reduce` of `+`), and whose other
 * properties are the key or literals; it does nothing else with its items. Combining an item
 * into a key's partial result then only adds numbers, which the scatter does in place
 * (CombineSums) instead of calling the combiner for every item.
 */
export interface CombinerSums {
  readonly kind: "combiner-sums"
  readonly call: Nodes.Position
  readonly fields: ReadonlyArray<string>
}

/**
 * A map whose function returns an object literal: the properties it copies unchanged from
 * its input (`p: r.p`, `p` of a destructured `{ p }`), whether it also copies the rest of
 * the input (`...r`), and the properties it computes.
 */
export interface MapCopies {
  readonly kind: "map-copies"
  readonly call: Nodes.Position
  readonly copied: ReadonlyArray<string>
  readonly spread: boolean
  readonly computed: ReadonlyArray<string>
}

/**
 * A map, filter or flatMap whose function reads its item only through these properties
 * (`e.kind`, `{ kind }`, or passing it to a local function that does).
 */
export interface ItemReads {
  readonly kind: "item-reads"
  readonly call: Nodes.Position
  readonly fields: ReadonlyArray<string>
}

/** Whether a map's output property `field` is its input's, unchanged. */
export const copies = (map: MapCopies, field: string): boolean =>
  map.copied.includes(field) || (map.spread && !map.computed.includes(field))
