import * as http from "node:http"
import { Effect, Runtime } from "effect"
import type * as Executable from "../executable/Executable.ts"
import type { Coordinator } from "./coordinator/Coordinator.ts"

/**
 * A small read-only dashboard served by the driver on 127.0.0.1 (`--dashboard[=PORT]`):
 * `/` is a page that refreshes itself, `/status` the coordinator's status as JSON, `/plan`
 * the plan (explain JSON). No user values are shown, only counts, ids and errors.
 *
 * Worker ids come from clients (`zephyr worker --worker-id`), so the page's script writes
 * every value with `textContent`, never as HTML, and the Content-Security-Policy allows
 * only the page's own script and stylesheet (no inline code, no other origin). Requests
 * whose Host is not this loopback address and port are refused (421), so a web page whose
 * domain is rebound to 127.0.0.1 cannot read the status; anything but GET or HEAD is 405.
 */

const page = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zephyr</title>
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<h1 id="title">zephyr</h1>
<p id="summary">connecting…</p>
<table>
<thead><tr><th>worker</th><th>state</th><th>last seen</th><th>in flight</th><th>done</th><th>deaths</th></tr></thead>
<tbody id="workers"></tbody>
</table>
</body>
</html>
`

const style = `body{font:14px system-ui;margin:2em}table{border-collapse:collapse}td,th{padding:2px 10px;text-align:left;border-bottom:1px solid #ddd}
`

// Every value goes through textContent: data is never parsed as HTML.
const script = `"use strict"
const byId = (id) => document.getElementById(id)
const row = (values) => {
  const tr = document.createElement("tr")
  for (const value of values) {
    const td = document.createElement("td")
    td.textContent = String(value)
    tr.append(td)
  }
  return tr
}
async function tick() {
  try {
    const s = await (await fetch("/status", { cache: "no-store" })).json()
    byId("title").textContent = s.executionId
    byId("summary").textContent = s.fatalError ? "failed: " + s.fatalError :
      "stage " + s.stage + " of " + s.stages + ": " + s.completed + "/" + s.total + " complete, " + s.inFlight + " in flight, " + s.queued + " queued, " + s.retries + " retries"
    byId("workers").replaceChildren(...s.workers.map((w) => row([w.id, w.state, (w.heartbeatAgeMs === null ? "never" : w.heartbeatAgeMs + " ms ago"), w.inFlight, w.tasksDone, w.deaths])))
  } catch (e) {
    byId("summary").textContent = "the run has ended"
  }
}
tick()
setInterval(tick, 1000)
`

const securityHeaders = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "cache-control": "no-store"
}

/** The Host values a browser sends for this server: loopback names with the port (bare when 80). */
export const allowedHosts = (port: number): ReadonlySet<string> => {
  const names = ["127.0.0.1", "localhost", "[::1]"]
  return new Set([...names.map((n) => `${n}:${port}`), ...(port === 80 ? names : [])])
}

type Answer = { readonly status: number; readonly type?: string; readonly body?: string; readonly headers?: Record<string, string> }

/** What to answer a request: a refusal, a static file, or which data to read (`status`, `plan`). */
export const route = (method: string | undefined, url: string | undefined, host: string | undefined, port: number): Answer | "status" | "plan" => {
  if (!host || !allowedHosts(port).has(host.toLowerCase())) {
    return { status: 421, type: "text/plain; charset=utf-8", body: `This dashboard answers only to http://127.0.0.1:${port}/ (or localhost:${port}).\n` }
  }
  if (method !== "GET" && method !== "HEAD") return { status: 405, headers: { allow: "GET, HEAD" } }
  switch ((url ?? "/").split("?")[0]) {
    case "/": case "/index.html": return { status: 200, type: "text/html; charset=utf-8", body: page }
    case "/dashboard.js": return { status: 200, type: "text/javascript; charset=utf-8", body: script }
    case "/dashboard.css": return { status: 200, type: "text/css; charset=utf-8", body: style }
    case "/status": return "status"
    case "/plan": return "plan"
    default: return { status: 404 }
  }
}

const send = (res: http.ServerResponse, r: Answer) => {
  res.writeHead(r.status, { ...securityHeaders, ...(r.type ? { "content-type": r.type } : {}), ...r.headers })
  res.end(r.body)
}

const json = (value: unknown): Answer => ({ status: 200, type: "application/json; charset=utf-8", body: JSON.stringify(value) })

export const serve = (coordinator: Coordinator, exe: Executable.Executable, port: number) =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    let boundPort = port
    const server = http.createServer((req, res) => {
      const r = route(req.method, req.url, req.headers.host, boundPort)
      if (r === "status") {
        Runtime.runPromise(runtime)(coordinator.status).then((s) => send(res, json(s)), () => send(res, { status: 500 }))
      } else if (r === "plan") send(res, json(exe.plan))
      else send(res, r)
    })
    const address = yield* Effect.acquireRelease(
      Effect.async<http.Server, Error>((resume) => {
        server.once("error", (e) => resume(Effect.fail(e)))
        server.listen(port, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (s) => Effect.async<void>((resume) => { s.closeAllConnections(); s.close(() => resume(Effect.void)) })
    ).pipe(Effect.map((s) => s.address() as { port: number }))
    boundPort = address.port
    yield* Effect.logWarning(`dashboard: http://127.0.0.1:${address.port}/`)
    return address.port
  })
