import * as BlockFile from "../../../runtime/storage/BlockFile.ts"
import { describe, expect, it } from "vitest"
import type { ShardOutput } from "../../../rpc/Protocol.ts"
import { split } from "../../../runtime/coordinator/Reshard.ts"

const inline = (...items: Array<number>): ShardOutput => ({ kind: "chunks", refs: [BlockFile.inline(items)] })
const file = (path: string, count: number): ShardOutput => ({ kind: "chunks", refs: [{ kind: "file", path, count, skip: 0, take: count }] })

describe("Reshard.split", () => {
  it("cuts the items, in shard order, into n contiguous balanced ranges", () => {
    const out = split([inline(1, 2, 3), inline(), inline(4, 5, 6, 7)], 3)
    expect(out.map((o) => (o.kind === "chunks" ? o.refs.flatMap((r) => (r.kind === "inline" ? BlockFile.inlineItems(r) : [])) : []))).toEqual([[1, 2], [3, 4], [5, 6, 7]])
  })
  it("splits one big chunk file by skip/take instead of copying it", () => {
    const out = split([file("/x.blk", 10)], 4)
    expect(out).toEqual([
      { kind: "chunks", refs: [{ kind: "file", path: "/x.blk", count: 10, skip: 0, take: 2 }] },
      { kind: "chunks", refs: [{ kind: "file", path: "/x.blk", count: 10, skip: 2, take: 3 }] },
      { kind: "chunks", refs: [{ kind: "file", path: "/x.blk", count: 10, skip: 5, take: 2 }] },
      { kind: "chunks", refs: [{ kind: "file", path: "/x.blk", count: 10, skip: 7, take: 3 }] }
    ])
  })
  it("gives empty shards when there are fewer items than shards, and handles no input", () => {
    expect(split([inline(1)], 3).map((o) => (o.kind === "chunks" ? o.refs.length : -1))).toEqual([0, 0, 1])
    expect(split([], 2)).toEqual([{ kind: "chunks", refs: [] }, { kind: "chunks", refs: [] }])
  })
})
