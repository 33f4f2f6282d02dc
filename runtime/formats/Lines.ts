import { isUtf8 } from "node:buffer"
import { CorruptInput } from "./Compression.ts"

/**
 * Splits a byte stream into lines without holding more than one chunk (plus the line in
 * progress) in memory. Each block of complete lines is validated as UTF-8 in one call and
 * decoded in one piece (the fast path); a block with invalid bytes is split on bytes so
 * only the offending lines are reported (as `Uint8Array`s) and the rest still decode.
 * `\n` and `\r\n` both end a line; a final line without a newline counts; a UTF-8 byte
 * order mark at the start is dropped.
 */
export interface LineBlock {
  /** The 1-based number of the first line in `lines`. */
  readonly first: number
  /** A string per line, or the raw bytes of a line that is not valid UTF-8. */
  readonly lines: ReadonlyArray<string | Uint8Array>
}

const NEWLINE = 0x0a

export async function* lines(bytes: AsyncIterable<Uint8Array>): AsyncGenerator<LineBlock> {
  let pending: Array<Uint8Array> = []
  let pendingBytes = 0
  let next = 1
  let first = true
  const take = (block: Array<string | Uint8Array>): LineBlock => {
    if (first && block.length > 0) {
      first = false
      const head = block[0]
      if (typeof head === "string" && head.charCodeAt(0) === 0xfeff) block[0] = head.slice(1)
    }
    const out = { first: next, lines: block }
    next += block.length
    return out
  }
  try {
    for await (const chunk of bytes) {
      const last = chunk.lastIndexOf(NEWLINE)
      if (last < 0) {
        pending.push(chunk)
        pendingBytes += chunk.length
        continue
      }
      let block: Array<string | Uint8Array>
      if (pendingBytes === 0) block = split(chunk.subarray(0, last + 1))
      else {
        // Only the line in progress is copied, not the whole chunk behind it: a fresh buffer of
        // a chunk's size for nearly every chunk cost group-by-count about 2.5% of its CPU. The
        // two parts are checked as UTF-8 apart, so a bad line leaves the rest on the fast path.
        const end = chunk.indexOf(NEWLINE) + 1
        block = split(Buffer.concat([...pending, chunk.subarray(0, end)], pendingBytes + end))
        if (end <= last) split(chunk.subarray(end, last + 1), block)
      }
      const rest = chunk.subarray(last + 1)
      pending = rest.length > 0 ? [rest] : []
      pendingBytes = rest.length
      yield take(block)
    }
  } catch (e) {
    if (e instanceof CorruptInput) {
      e.line = next
      e.partial = Buffer.concat(pending, pendingBytes).toString("utf8")
    }
    throw e
  }
  if (pendingBytes > 0) {
    const tail = Buffer.concat(pending, pendingBytes)
    yield take(split(tail[tail.length - 1] === NEWLINE ? tail : Buffer.concat([tail, Buffer.of(NEWLINE)])))
  }
}

/** Lines of a block that ends with a newline, appended to `into` when given. */
const split = (block: Uint8Array, into?: Array<string | Uint8Array>): Array<string | Uint8Array> => {
  const buf = Buffer.isBuffer(block) ? block : Buffer.from(block.buffer, block.byteOffset, block.byteLength)
  if (isUtf8(buf)) {
    const lines = buf.toString("utf8").split("\n")
    lines.pop()
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!
      if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1)
    }
    if (into === undefined) return lines
    for (let i = 0; i < lines.length; i++) into.push(lines[i]!)
    return into
  }
  const out: Array<string | Uint8Array> = into ?? []
  let start = 0
  for (let nl = buf.indexOf(NEWLINE, start); nl >= 0; nl = buf.indexOf(NEWLINE, start)) {
    const end = nl > start && buf[nl - 1] === 13 ? nl - 1 : nl
    const line = buf.subarray(start, end)
    out.push(isUtf8(line) ? line.toString("utf8") : Uint8Array.from(line))
    start = nl + 1
  }
  return out
}
