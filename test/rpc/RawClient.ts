import * as net from "node:net"
import * as Frames from "../../rpc/Frames.ts"

/**
 * A client that speaks the coordinator's wire format by hand, over a real socket, as a
 * probe or an attacker would: whatever it is told to send, no @effect/rpc client behind it.
 */
export interface RawClient {
  readonly socket: net.Socket
  /** Sends one message as a frame. */
  readonly send: (message: unknown) => void
  /** Sends bytes as they are. */
  readonly sendBytes: (bytes: Uint8Array) => Promise<boolean>
  /** Every message the coordinator answered so far. */
  readonly answers: Array<unknown>
  /** Every byte the coordinator sent, for searches. */
  readonly received: () => Buffer
  /** Resolves when the connection is closed, by either side. */
  readonly closed: Promise<void>
  readonly isClosed: () => boolean
  /** Resolves with the next answer, or undefined when the connection closes first. */
  readonly next: () => Promise<unknown>
}

export const connect = (port: number, host = "127.0.0.1"): Promise<RawClient> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, host)
    const codec = Frames.makeCodec()
    const decoder = new Frames.Decoder(64 << 20)
    const answers: Array<unknown> = []
    const bytes: Array<Buffer> = []
    let waiting: Array<() => void> = []
    let isClosed = false
    const wake = () => { const w = waiting; waiting = []; for (const f of w) f() }
    const closed = new Promise<void>((done) => socket.on("close", () => { isClosed = true; wake(); done() }))
    socket.on("error", () => undefined)
    socket.on("data", (data: Buffer) => {
      bytes.push(data)
      for (const body of decoder.push(data)) answers.push(codec.unpack(body))
      wake()
    })
    socket.once("connect", () => {
      let read = 0
      resolve({
        socket,
        send: (message) => { socket.write(codec.frame(message)) },
        sendBytes: (data) => new Promise((done) => socket.write(data, (e) => done(e == null))),
        answers,
        received: () => Buffer.concat(bytes),
        closed,
        isClosed: () => isClosed,
        next: async () => {
          while (read >= answers.length && !isClosed) await new Promise<void>((w) => waiting.push(w))
          return read < answers.length ? answers[read++] : undefined
        }
      })
    })
    socket.once("error", reject)
  })

let ids = 0
/** A call as @effect/rpc's client encodes it. */
export const request = (tag: string, payload: unknown) => ({ _tag: "Request", id: String(++ids), tag, payload, headers: [] })

/** The failure an answer carries, if it is a failed call's exit. */
export const failureOf = (answer: unknown): { readonly _tag?: string; readonly reason?: string; readonly message?: string } | undefined => {
  const a = answer as { _tag?: string; exit?: { _tag?: string; cause?: { _tag?: string; error?: unknown } } } | undefined
  return a?._tag === "Exit" && a.exit?._tag === "Failure" && a.exit.cause?._tag === "Fail" ? (a.exit.cause.error as never) : undefined
}

/** The value of a successful call's exit. */
export const successOf = (answer: unknown): unknown => {
  const a = answer as { _tag?: string; exit?: { _tag?: string; value?: unknown } } | undefined
  return a?._tag === "Exit" && a.exit?._tag === "Success" ? a.exit.value : undefined
}
