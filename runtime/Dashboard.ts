import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import * as http from "node:http"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { Cause, Effect, Exit, PubSub, Schedule, Stream } from "effect"
import * as Json from "../compiler/explain/Json.ts"
import type * as Plan from "../plan/Plan.ts"
import type { Coordinator } from "./coordinator/Coordinator.ts"
import * as Page from "./dashboard/Page.ts"
import * as Prometheus from "./dashboard/Prometheus.ts"
import * as View from "./dashboard/View.ts"

/**
 * The run's dashboard (`--dashboard[=PORT]`), served by the driver on 127.0.0.1 with
 * @effect/platform's Node HTTP server for as long as the run lasts (across retries of the
 * whole pipeline): `/` the page, `/events` its live updates (server-sent events), `/metrics`
 * Prometheus metrics, `/view` the page's data, `/status` the coordinator's status
 * (StatusSnapshot) and `/plan` the plan (explain JSON), all as JSON. Loaded only when asked
 * for (Execution imports it lazily): a run without it pays nothing.
 *
 * It is read-only, and every request must carry the dashboard's token, as every RPC of the
 * coordinator must (another user of the machine can reach 127.0.0.1 too, and error texts,
 * paths and counter names are the user's): `Authorization: Bearer TOKEN` (scrapers, curl),
 * or the cookie the page's URL (`/?token=TOKEN`, printed when the run starts) sets before it
 * redirects to `/`, so the token leaves the address bar and never appears in the page
 * (HttpOnly: its script cannot read it either). Compared in constant time; 401 otherwise.
 *
 * Worker ids, counter names and error texts come from users, so the page's script writes
 * them as text only, and the Content-Security-Policy allows only the page's own script,
 * stylesheet and icon (no inline code, no other origin). Requests whose Host is not this
 * loopback address and port are refused (421), so a web page whose domain is rebound to
 * 127.0.0.1 reaches nothing; methods other than GET (and HEAD, its header-only twin) are
 * refused (405).
 */

const securityHeaders = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
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

/** A random token for a run whose user chose none. */
export const newToken = (): string => randomBytes(24).toString("base64url")

/** The cookie holding the token; named by port, since a browser shares one host's cookies among its ports. */
export const cookieName = (port: number): string => `zephyr_dashboard_${port}`

const digest = (text: string): Buffer => createHash("sha256").update(text).digest()
/** Whether `presented` is the token, in time that does not depend on where they differ. */
const isToken = (presented: string | undefined, token: string): boolean =>
  presented !== undefined && timingSafeEqual(digest(presented), digest(token))

const cookieValue = (header: string | undefined, name: string): string | undefined => {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=")
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

export interface Request {
  readonly method: string | undefined
  readonly url: string | undefined
  readonly host: string | undefined
  readonly cookie?: string | undefined
  readonly authorization?: string | undefined
}

export type Answer = { readonly status: number; readonly type?: string; readonly body?: string; readonly headers?: Record<string, string> }
export type Data = "status" | "plan" | "view" | "events" | "metrics"

/** What to answer a request to the dashboard on `port` with `token`: a refusal, a static file, or which data to read. */
export const route = (request: Request, port: number, token: string): Answer | Data => {
  const { method, url, host } = request
  if (!host || !allowedHosts(port).has(host.toLowerCase())) {
    return { status: 421, type: "text/plain; charset=utf-8", body: `This dashboard answers only to http://127.0.0.1:${port}/ (or localhost:${port}).\n` }
  }
  if (method !== "GET" && method !== "HEAD") return { status: 405, type: "text/plain; charset=utf-8", body: "The dashboard is read-only: GET only.\n", headers: { allow: "GET, HEAD" } }
  const parsed = new URL(url ?? "/", "http://dashboard")
  const path = parsed.pathname
  const inUrl = parsed.searchParams.get("token") ?? undefined
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.authorization ?? "")?.[1]
  if (inUrl !== undefined && isToken(inUrl, token) && (path === "/" || path === "/index.html")) {
    // The page's URL: keep the token in a cookie and take it out of the address bar (and history).
    return { status: 303, headers: { location: "/", "set-cookie": `${cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict` } }
  }
  if (!isToken(bearer, token) && !isToken(cookieValue(request.cookie, cookieName(port)), token) && !isToken(inUrl, token)) {
    return {
      status: 401,
      type: "text/plain; charset=utf-8",
      body: `This dashboard needs the run's token: open the URL printed when the run started (http://127.0.0.1:${port}/?token=...), or send "Authorization: Bearer TOKEN".\n`,
      headers: { "www-authenticate": `Bearer realm="zephyr dashboard"` }
    }
  }
  switch (path) {
    case "/": case "/index.html": return { status: 200, type: "text/html; charset=utf-8", body: Page.html }
    case "/dashboard.js": return { status: 200, type: "text/javascript; charset=utf-8", body: Page.script }
    case "/dashboard.css": return { status: 200, type: "text/css; charset=utf-8", body: Page.css }
    case "/favicon.svg": case "/favicon.ico": return { status: 200, type: "image/svg+xml", body: Page.favicon }
    case "/status": return "status"
    case "/plan": return "plan"
    case "/view": return "view"
    case "/events": return "events"
    case "/metrics": return "metrics"
    default: return { status: 404, type: "text/plain; charset=utf-8", body: "Not found.\n" }
  }
}

export interface Dashboard {
  readonly port: number
  /** `http://127.0.0.1:PORT/`, without the token. */
  readonly url: string
  /** From now on, show this coordinator (a pipeline retry brings a fresh one). */
  readonly attach: (coordinator: Coordinator, attempt: number) => Effect.Effect<void>
  /** The run is over: every open page gets the final state and its stream ends. */
  readonly finish: (exit: Exit.Exit<unknown, unknown>) => Effect.Effect<void>
}

type Message = { readonly end: boolean; readonly bytes: Uint8Array }

const encoder = new TextEncoder()
/** One server-sent event; JSON has no raw line breaks, so one `data:` line holds it. */
const event = (name: string, json: string): Uint8Array => encoder.encode(`event: ${name}\ndata: ${json}\n\n`)

/** How often the coordinator's status is read; a page gets a new view on a change, and at least every second. */
const sampleMs = 250
const heartbeatMs = 1_000
/** How long the end waits for open pages to read the final state before closing them. */
const drainMs = 2_000

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e))

/** Serves the dashboard until the scope closes (after `finish`, which tells the pages). */
export const serve = (plan: Plan.Plan, port: number, token: string) =>
  Effect.gen(function* () {
    const cwd = process.cwd()
    const graph = View.graphOf(plan, cwd)
    const graphEvent = event("graph", JSON.stringify(graph))
    const startedAt = Date.now()
    let coordinator: Coordinator | undefined
    let attempt = 0
    let view = View.fromStatus(undefined, { graph, previous: undefined, elapsedMs: 0, attempt, cwd })
    let published = 0
    let ended = false
    let streams = 0
    // A page that reads slowly misses intermediate views, never the latest one or the end.
    const pubsub = yield* PubSub.sliding<Message>(16)

    const refresh = (endedAs?: View.Context["ended"]) =>
      Effect.gen(function* () {
        if (ended) return
        const status = coordinator === undefined ? undefined : yield* coordinator.status
        const now = Date.now()
        const next = View.fromStatus(status, { graph, previous: view, elapsedMs: now - startedAt, attempt, ended: endedAs, cwd })
        const publish = endedAs !== undefined || View.changed(view, next) || now - published >= heartbeatMs
        view = next
        if (publish) {
          published = now
          yield* PubSub.publish(pubsub, { end: false, bytes: event("view", JSON.stringify(view)) })
        }
      })

    const finish = (exit: Exit.Exit<unknown, unknown>) =>
      Effect.gen(function* () {
        if (ended) return
        yield* refresh(
          Exit.isSuccess(exit) ? { state: "succeeded", error: null }
            : Cause.isInterruptedOnly(exit.cause) ? { state: "interrupted", error: null }
            : { state: "failed", error: messageOf(Cause.squash(exit.cause)) }
        )
        ended = true
        yield* PubSub.publish(pubsub, { end: true, bytes: event("end", "{}") })
      })

    const events = Stream.unwrapScoped(Effect.gen(function* () {
      const subscription = yield* PubSub.subscribe(pubsub)
      streams++
      yield* Effect.addFinalizer(() => Effect.sync(() => { streams-- }))
      const first = Stream.make(graphEvent, event("view", JSON.stringify(view)))
      if (ended) return Stream.concat(first, Stream.make(event("end", "{}")))
      return Stream.concat(first, Stream.fromQueue(subscription).pipe(Stream.takeUntil((m) => m.end), Stream.map((m) => m.bytes)))
    }))

    const server = http.createServer()
    const httpServer = yield* NodeHttpServer.make(() => server, { port, host: "127.0.0.1" })
    const boundPort = httpServer.address._tag === "TcpAddress" ? httpServer.address.port : port

    const respond = (answer: Answer) =>
      answer.body === undefined
        ? HttpServerResponse.empty({ status: answer.status, headers: { ...securityHeaders, ...answer.headers } })
        : HttpServerResponse.text(answer.body, { status: answer.status, contentType: answer.type ?? "text/plain; charset=utf-8", headers: { ...securityHeaders, ...answer.headers } })
    const json = (value: unknown) => respond({ status: 200, type: "application/json; charset=utf-8", body: JSON.stringify(value) })

    const app = Effect.gen(function* () {
      const request = yield* HttpServerRequest.HttpServerRequest
      const { host, cookie, authorization } = request.headers
      const answer = route({ method: request.method, url: request.url, host, cookie, authorization }, boundPort, token)
      switch (answer) {
        case "status": return coordinator === undefined ? respond({ status: 503, body: "The run has not started yet.\n" }) : json(yield* coordinator.status)
        case "plan": return respond({ status: 200, type: "application/json; charset=utf-8", body: Json.render(plan) })
        case "view": return json(view)
        case "metrics": return respond({ status: 200, type: Prometheus.contentType, body: Prometheus.render(view, { fingerprint: plan.fingerprint, streams }) })
        case "events": return HttpServerResponse.stream(events, { contentType: "text/event-stream; charset=utf-8", headers: { ...securityHeaders, "x-accel-buffering": "no" } })
        default: return respond(answer)
      }
    })
    yield* httpServer.serve(app)
    yield* Effect.forkScoped(refresh().pipe(Effect.repeat(Schedule.spaced(sampleMs))))
    // Runs before the server's own release: stop accepting, end every page's stream (after
    // the final state), give the pages a moment to read it, then drop what is left.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        server.close()
        yield* finish(Exit.void)
        yield* Effect.sleep(20).pipe(Effect.repeat({ until: () => streams === 0 }), Effect.timeout(drainMs), Effect.ignore)
        server.closeAllConnections()
      })
    )

    const url = `http://127.0.0.1:${boundPort}/`
    const dashboard: Dashboard = {
      port: boundPort,
      url,
      attach: (c, n) => Effect.suspend(() => {
        coordinator = c
        attempt = n
        return refresh()
      }),
      finish
    }
    return dashboard
  })
