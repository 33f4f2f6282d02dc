import { describe, expect, it } from "vitest"
import * as Stream from "../../../runtime/task/ChunkStream.ts"
import * as ElementOps from "../../../runtime/task/ElementOps.ts"

const op = { id: "o1", kind: "flatMap", name: "f", source: { file: "x.ts", line: 1, column: 1 } } as const

/** A user generator of a million items, and what happened to it. */
const endless = () => {
  const seen = { produced: 0, finalized: 0 }
  function* gen(): Generator<number> {
    try { for (let i = 0; i < 1_000_000; i++) { seen.produced++; yield i } } finally { seen.finalized++ }
  }
  return { seen, gen }
}

/** flatMap(endless) then takePerShard(3), over a sync or an async upstream of one item. */
const pipeline = (sync: boolean, gen: () => Iterable<unknown>) => {
  const source = sync ? Stream.of([0]) : Stream.fromAsync(async function* () { yield [0] })
  const expanded = Stream.through(source, ElementOps.flatMap(gen, op))
  return Stream.through(expanded, ElementOps.takePerShard(3))
}

const collect = async (s: Stream.ChunkStream): Promise<Array<unknown>> => {
  const out: Array<unknown> = []
  await Stream.drain(s, (c) => { out.push(...c) })
  return out
}

describe("chunk streams", () => {
  for (const sync of [true, false]) {
    it(`a downstream limit stops a long expansion after one chunk and closes it (${sync ? "sync" : "async"} upstream)`, async () => {
      const { seen, gen } = endless()
      expect(await collect(pipeline(sync, gen))).toEqual([0, 1, 2])
      expect(seen.produced).toBe(Stream.CHUNK_ITEMS)
      expect(seen.finalized).toBe(1)
    })
  }

  it("a consumer that abandons the stream closes the transducer and the upstream", () => {
    const { seen, gen } = endless()
    let upstreamReturned = false
    const source = Stream.fromSync(function* () { try { yield [0]; yield [1] } finally { upstreamReturned = true } })
    const it = Stream.through(source, ElementOps.flatMap(gen, op)).chunks() as Iterator<Stream.Chunk>
    expect((it.next().value as Stream.Chunk).length).toBe(Stream.CHUNK_ITEMS)
    it.return?.()
    expect(seen.finalized).toBe(1)
    expect(upstreamReturned).toBe(true)
  })

  it("an expansion's memory stays bounded: every output chunk is at most CHUNK_ITEMS", async () => {
    const source = Stream.of(Array.from({ length: 8 }, (_, i) => i))
    const expanded = Stream.through(source, ElementOps.flatMap((n: any) => (function* () { for (let i = 0; i < 3_000 * (n + 1); i++) yield i })(), op))
    let total = 0, biggest = 0
    await Stream.drain(expanded, (c) => { total += c.length; biggest = Math.max(biggest, c.length) })
    expect(total).toBe(3_000 * 36)
    expect(biggest).toBeLessThanOrEqual(Stream.CHUNK_ITEMS)
  })
})
