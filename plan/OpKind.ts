/**
 * Every kind of plan op, in one place. A kind is the name of the DSL method that creates
 * the op (all writers are `write`). The op schemas (Op.ts), the compiler's lowering,
 * explain, the static checks and the runtime's operator table name kinds through these
 * constants, and the operator table and the implementation links are records over
 * `OpKind`: a new kind that one of them forgets does not compile.
 */
export const OpKind = {
  loadFile: "loadFile",
  loadJsonl: "loadJsonl",
  loadParquet: "loadParquet",
  loadText: "loadText",
  loadCsv: "loadCsv",
  map: "map",
  flatMap: "flatMap",
  mapShard: "mapShard",
  windowBy: "windowBy",
  filter: "filter",
  mapEffect: "mapEffect",
  select: "select",
  takePerShard: "takePerShard",
  window: "window",
  groupBy: "groupBy",
  deduplicate: "deduplicate",
  reduce: "reduce",
  count: "count",
  reshard: "reshard",
  sortedMergeJoin: "sortedMergeJoin",
  write: "write"
} as const
export type OpKind = (typeof OpKind)[keyof typeof OpKind]

export const allKinds: ReadonlyArray<OpKind> = Object.values(OpKind)

/** The readers: each starts a stage whose input is a list of files. */
export const loadKinds = [OpKind.loadFile, OpKind.loadJsonl, OpKind.loadParquet, OpKind.loadText, OpKind.loadCsv] as const
export type LoadKind = (typeof loadKinds)[number]

/** Element-wise ops are fused into one stage; everything else is (part of) a boundary. */
export const elementWiseKinds = [
  ...loadKinds,
  OpKind.map, OpKind.flatMap, OpKind.mapShard, OpKind.windowBy, OpKind.filter, OpKind.mapEffect, OpKind.select, OpKind.takePerShard, OpKind.window
] as const
export type ElementWiseKind = (typeof elementWiseKinds)[number]

export const isLoad = (kind: string): kind is LoadKind => (loadKinds as ReadonlyArray<string>).includes(kind)
