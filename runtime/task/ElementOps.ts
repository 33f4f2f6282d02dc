import * as Expr from "../../plan/Expr.ts"
import type * as Implementation from "../../executable/Implementation.ts"
import type * as Op from "../../plan/Op.ts"
import { CHUNK_ITEMS, type Chunk, type Transducer } from "./ChunkStream.ts"

/**
 * Element-wise ops as chunk transducers: one synchronous loop per chunk, no per-item
 * allocation beyond the output array. Only flatMap may give more than one output chunk
 * per input chunk (see Transducer).
 */
const stateless = (push: (chunk: Chunk) => Chunk): (() => Transducer) => () => ({ push, end: () => [] })

export const map = (fn: (a: unknown) => unknown) => stateless((chunk) => {
  const out = new Array<unknown>(chunk.length)
  for (let i = 0; i < chunk.length; i++) out[i] = fn(chunk[i])
  return out
})

export const filter = (pred: (a: unknown) => unknown) => stateless((chunk) => {
  const out: Array<unknown> = []
  for (let i = 0; i < chunk.length; i++) if (pred(chunk[i])) out.push(chunk[i])
  return out
})

const NONE: Chunk = []

/**
 * Each item's iterable, flattened. Small arrays (the common case) are copied in one loop;
 * a generator (or a big array) is pulled only as far as the consumer asks: the output is
 * cut near CHUNK_ITEMS items and the rest waits for `more`, and `close` returns an
 * unfinished generator so its `finally` blocks run.
 */
export const flatMap = (fn: (a: unknown) => Iterable<unknown>, op: Op.Op) => (): Transducer => {
  let input: Chunk = NONE
  let i = 0
  let open: Iterator<unknown> | undefined
  /** Pulls the open iterator into `out` until it ends (false) or `out` is full (true). */
  const drain = (out: Array<unknown>): boolean => {
    const it = open!
    for (;;) {
      const r = it.next()
      if (r.done) { open = undefined; return false }
      out.push(r.value)
      if (out.length >= CHUNK_ITEMS) return true
    }
  }
  const fill = (): Chunk => {
    const out: Array<unknown> = []
    if (open !== undefined && drain(out)) return out
    while (i < input.length) {
      const r = fn(input[i++])
      if (Array.isArray(r) && r.length <= CHUNK_ITEMS) { for (let j = 0; j < r.length; j++) out.push(r[j]) }
      else if (r !== null && r !== undefined && typeof (r as Iterable<unknown>)[Symbol.iterator] === "function") {
        open = (r as Iterable<unknown>)[Symbol.iterator]()
        if (drain(out)) return out
      } else throw new TypeError(`${op.kind}${op.name ? `(${op.name})` : ""} must return an iterable (an array, a generator, ...), got ${r === null ? "null" : typeof r}`)
      if (out.length >= CHUNK_ITEMS) return out
    }
    input = NONE
    return out
  }
  return {
    push(chunk) {
      input = chunk
      i = 0
      return fill()
    },
    get pending() { return open !== undefined || i < input.length },
    more: fill,
    end: () => NONE,
    close() {
      const it = open
      open = undefined
      input = NONE
      it?.return?.()
    }
  }
}

/** Keeps the given keys in the order given; missing keys are omitted. */
export const select = (columns: ReadonlyArray<string>) => stateless((chunk) => {
  const out = new Array<unknown>(chunk.length)
  for (let i = 0; i < chunk.length; i++) {
    const row = chunk[i] as Record<string, unknown> | null
    const o: Record<string, unknown> = {}
    if (row !== null && typeof row === "object") for (const c of columns) if (c in row) o[c] = row[c]
    out[i] = o
  }
  return out
})

export const takePerShard = (n: number) => (): Transducer => {
  let left = n
  return {
    push(chunk) {
      if (left <= 0) return []
      const out = chunk.length <= left ? chunk : chunk.slice(0, left)
      left -= out.length
      return out
    },
    end: () => [],
    get done() { return left <= 0 }
  }
}

export const window = (size: number) => (): Transducer => {
  let cur: Array<unknown> = []
  return {
    push(chunk) {
      const out: Array<unknown> = []
      for (let i = 0; i < chunk.length; i++) {
        cur.push(chunk[i])
        if (cur.length === size) { out.push(cur); cur = [] }
      }
      return out
    },
    end() {
      const last = cur
      cur = []
      return last.length > 0 ? [last] : []
    }
  }
}

/**
 * `fold(state, item)` returns `[keep, newState]`; when keep is false on a non-empty window,
 * the window is emitted and a new one starts with the item, with state `fold(initial, item)[1]`.
 */
export const windowBy = (impl: Extract<Implementation.Implementation, { kind: "windowBy" }>, op: Op.Op) => (): Transducer => {
  let cur: Array<unknown> = []
  let state: unknown = impl.initial
  const step = (s: unknown, item: unknown): readonly [boolean, unknown] => {
    const r = impl.fold(s, item)
    if (!Array.isArray(r) || r.length !== 2) throw new TypeError(`windowBy${op.name ? `(${op.name})` : ""} must return [keepInWindow, newState], got ${JSON.stringify(r)}`)
    return r as unknown as readonly [boolean, unknown]
  }
  return {
    push(chunk) {
      const out: Array<unknown> = []
      for (let i = 0; i < chunk.length; i++) {
        const item = chunk[i]
        const [keep, next] = step(state, item)
        if (keep || cur.length === 0) { cur.push(item); state = next; continue }
        out.push(cur)
        cur = [item]
        state = step(impl.initial, item)[1]
      }
      return out
    },
    end() {
      const last = cur
      cur = []
      return last.length > 0 ? [last] : []
    }
  }
}

export const exprFilter = (expr: Expr.Expr) => filter(Expr.predicate(expr))
