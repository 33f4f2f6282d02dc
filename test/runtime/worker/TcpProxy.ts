import * as net from "node:net"

/**
 * A TCP proxy on 127.0.0.1 that a test can cut and restore: `cut` resets every connection
 * through it and stops listening (a dial is refused, as with a coordinator out of reach);
 * `restore` listens again on the same port. `close` ends it for good.
 */
export interface TcpProxy {
  readonly port: number
  /** Connections accepted so far. */
  readonly accepted: () => number
  readonly cut: () => Promise<void>
  readonly restore: () => Promise<void>
  readonly close: () => Promise<void>
}

export const start = async (target: { readonly host: string; readonly port: number }): Promise<TcpProxy> => {
  const sockets = new Set<net.Socket>()
  let accepted = 0
  const server = net.createServer((client) => {
    accepted++
    const upstream = net.connect(target.port, target.host)
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      sockets.add(a)
      a.pipe(b)
      a.on("error", () => b.destroy())
      a.on("close", () => { sockets.delete(a); b.destroy() })
    }
  })
  const listen = (port: number) => new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(port, "127.0.0.1", () => { server.off("error", reject); resolve((server.address() as net.AddressInfo).port) })
  })
  const stop = () => new Promise<void>((resolve) => {
    for (const s of sockets) s.resetAndDestroy()
    sockets.clear()
    if (server.listening) server.close(() => resolve())
    else resolve()
  })
  const port = await listen(0)
  return { port, accepted: () => accepted, cut: stop, restore: async () => { await listen(port) }, close: stop }
}
