import type { ChunkRef, ShardOutput } from "../../rpc/Protocol.ts"
import { refCount } from "../../rpc/Protocol.ts"
import * as BlockFile from "../storage/BlockFile.ts"

/**
 * A reshard, decided by the coordinator alone: the items of the previous stage, taken in
 * shard order, are cut into `n` contiguous ranges of (almost) equal size. Only references
 * move; chunk files are read with skip/take. Order is kept and shards are balanced even
 * when the input was one big shard.
 */
export const split = (outputs: ReadonlyArray<ShardOutput>, n: number): Array<ShardOutput> => {
  const refs: Array<ChunkRef> = []
  for (const o of outputs) {
    if (o.kind !== "chunks") throw new Error("Internal: reshard input must be chunks, not a scatter")
    for (const r of o.refs) if (refCount(r) > 0) refs.push(r)
  }
  const total = refs.reduce((s, r) => s + refCount(r), 0)
  const out: Array<ShardOutput> = []
  let ref = 0
  let offset = 0 // items of refs[ref] already dealt
  for (let j = 0; j < n; j++) {
    let want = Math.floor(((j + 1) * total) / n) - Math.floor((j * total) / n)
    const pieces: Array<ChunkRef> = []
    while (want > 0) {
      const r = refs[ref]!
      const available = refCount(r) - offset
      const take = Math.min(want, available)
      pieces.push(slice(r, offset, take))
      want -= take
      offset += take
      if (offset === refCount(r)) { ref++; offset = 0 }
    }
    out.push({ kind: "chunks", refs: pieces })
  }
  return out
}

const slice = (r: ChunkRef, from: number, count: number): ChunkRef =>
  r.kind === "inline"
    ? (from === 0 && count === r.count ? r : BlockFile.inline(BlockFile.inlineItems(r).slice(from, from + count)))
    : { kind: "file", path: r.path, count: r.count, skip: r.skip + from, take: count }
