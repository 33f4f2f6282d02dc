import * as http from "node:http"
import { Effect, Runtime } from "effect"
import type * as Executable from "../compiler/plan/Executable.ts"
import type { Coordinator } from "./coordinator/Coordinator.ts"

/**
 * A small read-only dashboard served by the driver on 127.0.0.1 (`--dashboard[=PORT]`):
 * `/` is a page that refreshes itself, `/status` the coordinator's status as JSON, `/plan`
 * the plan (explain JSON). No user values are shown, only counts and ids.
 */
const page = `<!doctype html><meta charset="utf-8"><title>zephyr</title>
<style>body{font:14px system-ui;margin:2em}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}</style>
<h1 id="title">zephyr</h1><p id="summary">connecting…</p><table id="workers"></table>
<script>
async function tick() {
  try {
    const s = await (await fetch("/status")).json()
    document.getElementById("title").textContent = s.executionId
    document.getElementById("summary").textContent = s.fatalError ? "failed: " + s.fatalError :
      "stage " + s.stage + " of " + s.stages + ": " + s.completed + "/" + s.total + " complete, " + s.inFlight + " in flight, " + s.queued + " queued, " + s.retries + " retries"
    document.getElementById("workers").innerHTML = "<tr><th>worker</th><th>state</th><th>last seen</th><th>in flight</th><th>done</th><th>deaths</th></tr>" +
      s.workers.map((w) => "<tr><td>" + w.id + "</td><td>" + w.state + "</td><td>" + w.lastSeenAgoMs + " ms ago</td><td>" + w.inFlight + "</td><td>" + w.tasksDone + "</td><td>" + w.deaths + "</td></tr>").join("")
  } catch (e) { document.getElementById("summary").textContent = "the run has ended" }
}
tick(); setInterval(tick, 1000)
</script>`

export const serve = (coordinator: Coordinator, exe: Executable.Executable, port: number) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const server = http.createServer((req, res) => {
      if (req.url === "/status") {
        Runtime.runPromise(runtime)(coordinator.status).then((s) => {
          res.writeHead(200, { "content-type": "application/json" })
          res.end(JSON.stringify(s))
        }, () => { res.writeHead(500); res.end() })
      } else if (req.url === "/plan") {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify(exe.plan))
      } else if (req.url === "/" || req.url === "/index.html") {
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" })
        res.end(page)
      } else {
        res.writeHead(404)
        res.end()
      }
    })
    const address = yield* Effect.acquireRelease(
      Effect.async<http.Server, Error>((resume) => {
        server.once("error", (e) => resume(Effect.fail(e)))
        server.listen(port, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (s) => Effect.async<void>((resume) => { s.closeAllConnections(); s.close(() => resume(Effect.void)) })
    ).pipe(Effect.map((s) => s.address() as { port: number }))
    yield* Effect.logWarning(`dashboard: http://127.0.0.1:${address.port}/`)
    return address.port
  })
