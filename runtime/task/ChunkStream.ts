/**
 * A shard's items flowing through a stage, one chunk (array) at a time. A stream is sync
 * when everything upstream is (lists, chunk files, shuffle merges, element-wise ops) and
 * async once a reader or an Effect is involved. Sync consumers that need a plain Iterable
 * of the whole shard (mapShard, reduce folds) get one lazily from a sync stream, and from
 * an async one after it has been materialised (in memory, spilled past a budget).
 */
export type Chunk = ReadonlyArray<unknown>

export type ChunkStream =
  | { readonly sync: true; readonly chunks: () => Iterator<Chunk> }
  | { readonly sync: false; readonly chunks: () => AsyncIterator<Chunk> }

export const fromSync = (chunks: () => Iterator<Chunk>): ChunkStream => ({ sync: true, chunks })
export const fromAsync = (chunks: () => AsyncIterator<Chunk>): ChunkStream => ({ sync: false, chunks })

export const of = (items: ReadonlyArray<unknown>): ChunkStream =>
  fromSync(function* () { if (items.length > 0) yield items })

export const empty: ChunkStream = fromSync(function* () {})

/** Re-chunks a lazy Iterable of items (e.g. a user generator) into chunks of `size`. */
export function* chunked(items: Iterable<unknown>, size = 1024): Generator<Chunk> {
  let buf: Array<unknown> = []
  for (const item of items) {
    buf.push(item)
    if (buf.length >= size) { yield buf; buf = [] }
  }
  if (buf.length > 0) yield buf
}

/** A lazy, single-pass Iterable over the items of sync chunks. */
export function* items(chunks: Iterator<Chunk>): Generator<unknown> {
  for (let r = chunks.next(); !r.done; r = chunks.next()) yield* r.value
}

/** An op that expands one input into many items cuts its output near this many items. */
export const CHUNK_ITEMS = 4096

/**
 * A stateful chunk transformer: `push` maps one input chunk to output items, `end` flushes
 * what is buffered. `done` becomes true when no more input is wanted (takePerShard), so the
 * upstream (a file reader, say) stops early. An op whose input may expand into many items
 * (flatMap, a join's key group) returns at most about CHUNK_ITEMS from `push` and keeps
 * its place: while `pending`, `more` gives the next part, so one input's output is pulled
 * lazily and a consumer that stops early never drives it to its end. `close` runs when the
 * stream stops (ended, failed or abandoned): it returns what the op holds open, so the
 * `finally` blocks of a user's generator run.
 */
export interface Transducer {
  push(chunk: Chunk): Chunk
  end(): Chunk
  readonly done?: boolean
  readonly pending?: boolean
  more?(): Chunk
  close?(): void
}

/** A chunk a transducer gave back, then what it still holds (an expansion pulled a chunk at a time). */
function* outputsOf(t: Transducer, out: Chunk): Generator<Chunk> {
  if (out.length > 0) yield out
  while (t.pending === true && t.done !== true) {
    const next = t.more!()
    if (next.length > 0) yield next
  }
}

export const through = (stream: ChunkStream, make: () => Transducer): ChunkStream => {
  if (stream.sync) {
    return fromSync(function* () {
      const t = make()
      const upstream = stream.chunks()
      try {
        for (let r = upstream.next(); !r.done; r = upstream.next()) {
          yield* outputsOf(t, t.push(r.value))
          if (t.done) break
        }
        const last = t.end()
        if (last.length > 0) yield last
      } finally {
        try { t.close?.() } finally { upstream.return?.() }
      }
    })
  }
  return fromAsync(async function* () {
    const t = make()
    try {
      for await (const chunk of asAsync(stream)) {
        yield* outputsOf(t, t.push(chunk))
        if (t.done) break
      }
      const last = t.end()
      if (last.length > 0) yield last
    } finally {
      t.close?.()
    }
  })
}

/** Applies an async function to each chunk (mapEffect), keeping order. */
export const throughAsync = (stream: ChunkStream, f: (chunk: Chunk) => Promise<Chunk>): ChunkStream =>
  fromAsync(async function* () {
    for await (const chunk of asAsync(stream)) {
      const out = await f(chunk)
      if (out.length > 0) yield out
    }
  })

/** Each input item expands into an async stream of chunks (a file reader per path). */
export const expandAsync = (stream: ChunkStream, f: (item: unknown) => AsyncIterable<Chunk>): ChunkStream =>
  fromAsync(async function* () {
    for await (const chunk of asAsync(stream)) for (const item of chunk) yield* f(item)
  })

/**
 * A long synchronous run would starve the event loop: the worker's heartbeats and its
 * socket would go quiet and the coordinator would take it for dead. Sync loops call this
 * between chunks; it yields to the event loop (a macrotask, not a microtask) every ~20 ms.
 */
let lastYield = performance.now()
export const breathe = (): Promise<void> | undefined => {
  const now = performance.now()
  if (now - lastYield < 20) return undefined
  return new Promise<void>((resolve) => setImmediate(() => { lastYield = performance.now(); resolve() }))
}

/** Visits every chunk; resolves when the stream is exhausted. */
export const drain = async (stream: ChunkStream, visit: (chunk: Chunk) => void): Promise<void> => {
  const it = stream.chunks()
  if (stream.sync) {
    const s = it as Iterator<Chunk>
    for (let r = s.next(); !r.done; r = s.next()) {
      visit(r.value)
      const pause = breathe()
      if (pause) await pause
    }
    return
  }
  const a = it as AsyncIterator<Chunk>
  for (let r = await a.next(); !r.done; r = await a.next()) {
    visit(r.value)
    const pause = breathe()
    if (pause) await pause
  }
}

/** The stream as async chunks, whatever it is. */
export async function* asAsync(stream: ChunkStream): AsyncGenerator<Chunk> {
  if (stream.sync) {
    const it = stream.chunks()
    try {
      for (let r = it.next(); !r.done; r = it.next()) {
        yield r.value
        const pause = breathe()
        if (pause) await pause
      }
    } finally { it.return?.() }
  } else {
    const it = stream.chunks()
    try { for (let r = await it.next(); !r.done; r = await it.next()) yield r.value } finally { await it.return?.() }
  }
}
