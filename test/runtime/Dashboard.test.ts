import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import * as vm from "node:vm"
import { Effect } from "effect"
import { describe, expect, it, vi } from "vitest"
import { Counters, Dataset, Zephyr } from "zephyr"
import * as Dashboard from "../../runtime/Dashboard.ts"
import type * as View from "../../runtime/dashboard/View.ts"
import { expectNeverRun, localCsvRuns } from "../BundleCoverage.ts"
import { useTempDirs } from "../TempDirs.ts"
import * as PrometheusText from "./dashboard/PrometheusText.ts"

const tmp = useTempDirs("zephyr-dashboard-")

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as net.AddressInfo).port
    s.close(() => resolve(port))
  })
})

/** One request with the Host header (and method, and headers) given, which fetch would not let us set. */
const request = (port: number, options: { path?: string; host?: string; method?: string; headers?: Record<string, string> }) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: options.path ?? "/", method: options.method ?? "GET", headers: { host: options.host ?? `127.0.0.1:${port}`, ...options.headers } }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (d) => { body += d })
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }))
    })
    req.on("error", reject)
    req.end()
  })

const waitFor = async <A>(what: string, get: () => Promise<A | undefined>): Promise<A> => {
  for (let i = 0; i < 1200; i++) {
    const value = await get().catch(() => undefined)
    if (value !== undefined) return value
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

interface Event { readonly event: string; readonly data: string }

/** Follows `/events` as a browser's EventSource would: events in order, and whether the server ended the stream. */
const followEvents = (port: number, token: string) => {
  const events: Array<Event> = []
  const waiters: Array<() => void> = []
  let ended = false
  let headers: http.IncomingHttpHeaders = {}
  const req = http.get({ host: "127.0.0.1", port, path: "/events", headers: { host: `127.0.0.1:${port}`, accept: "text/event-stream", authorization: `Bearer ${token}` } }, (res) => {
    headers = res.headers
    let buffer = ""
    res.setEncoding("utf8")
    res.on("data", (d: string) => {
      buffer += d
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message"
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n")
        events.push({ event, data })
      }
      waiters.splice(0).forEach((w) => w())
    })
    res.on("end", () => { ended = true; waiters.splice(0).forEach((w) => w()) })
  })
  req.on("error", () => { ended = true; waiters.splice(0).forEach((w) => w()) })
  let read = 0
  return {
    headers: () => headers,
    /** The next event, or undefined once the stream has ended. */
    next: async (): Promise<Event | undefined> => {
      while (read >= events.length && !ended) await new Promise<void>((r) => waiters.push(r))
      return read < events.length ? events[read++] : undefined
    },
    ended: () => ended,
    close: () => req.destroy()
  }
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })
const metrics = async (port: number, token: string) => PrometheusText.parse(await fetch(`http://127.0.0.1:${port}/metrics`, bearer(token)).then((r) => r.text()))
/** The URL the run printed on stderr for its dashboard, and the token in it. */
const printedUrl = (stderr: string) => {
  const m = /dashboard on (http:\/\/127\.0\.0\.1:(\d+)\/)\?token=([A-Za-z0-9._~-]+) /.exec(stderr)
  return m ? { base: m[1]!.slice(0, -1), port: Number(m[2]), token: m[3]! } : undefined
}
const gauge = (families: Map<string, PrometheusText.Family>, name: string) => families.get(name)?.samples[0]?.value

describe("dashboard", () => {
  it("serves the page, its files, the view, status, plan and /metrics during a run; live events with a snapshot on connect, the final state and an end; lets go of pages that leave; stops with the run", async () => {
    const port = await freePort()
    let open = false
    const gated = Dataset.fromList([1, 2, 3, 4]).mapEffect((n: number) => Effect.gen(function* () {
      while (!open) yield* Effect.sleep("20 millis")
      Counters.increment("seen")
      return n * 2
    }))
    // The token is made up for the run and printed once on stderr, in the page's URL.
    let printed = ""
    const write = process.stderr.write.bind(process.stderr)
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((chunk: any, ...rest: Array<any>) => {
      printed += String(chunk)
      return write(chunk, ...rest)
    })
    const run = Zephyr.run(gated, { workers: 2, dashboard: port })
    let token: string
    try {
      token = (await waitFor("the dashboard's URL on stderr", async () => printedUrl(printed)))!.token
    } finally {
      spy.mockRestore()
    }
    expect(printedUrl(printed)!.port).toBe(port)
    const base = `http://127.0.0.1:${port}`
    const get = (p: string) => fetch(`${base}${p}`, bearer(token))
    const running = await waitFor("the first stage to run", () =>
      get("/view").then((r) => r.json() as Promise<View.View>).then((v) => (v.stages[0]?.state === "running" && v.workers.filter((w) => w.state === "busy").length === 2 ? v : undefined)))
    expect(running).toMatchObject({ state: "running", stages: [{ id: 0, total: 4, done: 0 }] })

    // The page and its files, each with its type and the security headers.
    const page = await get("/")
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8")
    expect(page.headers.get("content-security-policy")).toContain("script-src 'self'")
    expect(await page.text()).toMatch(/^<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">/)
    for (const [file, type] of [["/dashboard.js", "text/javascript; charset=utf-8"], ["/dashboard.css", "text/css; charset=utf-8"], ["/favicon.svg", "image/svg+xml"]]) {
      const r = await get(file!)
      expect([r.status, r.headers.get("content-type"), r.headers.get("x-content-type-options")]).toEqual([200, type, "nosniff"])
    }
    expect(await get("/status").then((r) => r.json())).toMatchObject({ stage: 0, stages: 1, total: 4, done: false, stageProgress: [{ id: 0, state: "running" }] })
    const plan = (await get("/plan").then((r) => r.json())) as { version: number; stages: Array<{ ops: Array<{ kind: string }> }> }
    expect(plan.version).toBe(1)
    expect(plan.stages[0]!.ops[0]!.kind).toBe("mapEffect")

    // /metrics during the run, parsed strictly.
    const during = await get("/metrics")
    expect(during.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8")
    const families = PrometheusText.parse(await during.text())
    expect(families.get("zephyr_stage_shards")!.samples.find((s) => s.labels.state === "done")).toMatchObject({ labels: { stage: "0" }, value: 0 })
    expect(families.get("zephyr_workers")!.samples.find((s) => s.labels.state === "busy")!.value).toBe(2)
    expect(gauge(families, "zephyr_dashboard_streams")).toBe(0)

    // Nothing answered carries the token.
    for (const p of ["/", "/dashboard.js", "/view", "/status", "/plan", "/metrics"]) expect(await get(p).then((r) => r.text())).not.toContain(token)

    // A page that connects gets the graph and the current view at once; one that leaves is let go.
    const leaving = followEvents(port, token)
    expect((await leaving.next())!.event).toBe("graph")
    const snapshot = await leaving.next()
    expect(snapshot!.event).toBe("view")
    expect(JSON.parse(snapshot!.data)).toMatchObject({ state: "running" })
    expect(leaving.headers()["content-type"]).toBe("text/event-stream; charset=utf-8")
    expect(leaving.headers()["content-security-policy"]).toContain("default-src 'none'")
    expect(gauge(await metrics(port, token), "zephyr_dashboard_streams")).toBe(1)
    leaving.close()
    await waitFor("the stream of the page that left to close", async () => (gauge(await metrics(port, token), "zephyr_dashboard_streams") === 0 ? true : undefined))

    // A page that stays sees the run end: the final state, then `end`, then the stream closes.
    const staying = followEvents(port, token)
    const graph = JSON.parse((await staying.next())!.data) as View.Graph
    expect(graph.stages[0]!.lines.map((l) => l.text)).toContain("mapEffect, concurrency 1")
    open = true
    const views: Array<View.View> = []
    let last: Event | undefined
    while ((last = await staying.next()) && last.event === "view") views.push(JSON.parse(last.data))
    expect(last?.event).toBe("end")
    expect(await staying.next()).toBeUndefined()
    expect(staying.ended()).toBe(true)
    const final = views[views.length - 1]!
    expect(final).toMatchObject({ state: "succeeded", stages: [{ state: "done", done: 4, total: 4 }] })
    expect(final.counters).toContainEqual({ stage: 0, name: "seen", value: 4, builtIn: false })

    expect((await run).results).toEqual([2, 4, 6, 8])
    await expect(get("/view")).rejects.toThrow()
  }, 180_000)

  it("loads only when asked for: a run without --dashboard never runs it, its HTTP server or the WebSocket library, in the driver or a worker", async () => {
    expectNeverRun(await localCsvRuns(tmp()), [
      "runtime/Dashboard.ts",
      "node_modules/@effect/platform-node/dist/esm/NodeHttpServer.js",
      // The RPC transport's sockets are plain TCP: `ws` is the HTTP server's alone.
      "node_modules/ws/wrapper.mjs"
    ])
  }, 120_000)

  it("refuses other Host headers (DNS rebinding), methods other than GET (and HEAD), and requests without the token", () => {
    const port = 8686
    const token = "t0ken-for-the-route-table"
    const auth = { authorization: `Bearer ${token}` }
    const route = (method: string, url: string, host: string | undefined, headers: { cookie?: string; authorization?: string } = auth, p = port) =>
      Dashboard.route({ method, url, host, ...headers }, p, token)
    for (const host of ["127.0.0.1:8686", "localhost:8686", "LOCALHOST:8686", "[::1]:8686"]) {
      expect(route("GET", "/", host)).toMatchObject({ status: 200 })
    }
    for (const host of [undefined, "", "evil.example:8686", "127.0.0.1", "127.0.0.1:8687", "localhost.evil.example:8686", "127.0.0.1:8686.evil.example"]) {
      for (const url of ["/", "/status", "/events", "/metrics", "/view"]) expect(route("GET", url, host)).toMatchObject({ status: 421 })
    }
    expect(route("GET", "/", "localhost", auth, 80)).toMatchObject({ status: 200 })
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"]) {
      for (const url of ["/", "/status", "/events", "/metrics"]) {
        expect(route(method, url, "127.0.0.1:8686")).toMatchObject({ status: 405, headers: { allow: "GET, HEAD" } })
      }
    }
    expect(route("GET", "/status?x=1", "127.0.0.1:8686")).toBe("status")
    expect(route("HEAD", "/plan", "127.0.0.1:8686")).toBe("plan")
    expect(route("GET", "/events", "127.0.0.1:8686")).toBe("events")
    expect(route("GET", "/metrics", "127.0.0.1:8686")).toBe("metrics")
    expect(route("GET", "/nope", "127.0.0.1:8686")).toMatchObject({ status: 404 })

    // The token: a bearer header, the page's cookie (set from the URL's ?token=), or ?token= itself; nothing else.
    const host = "127.0.0.1:8686"
    for (const url of ["/", "/index.html", "/dashboard.js", "/dashboard.css", "/favicon.svg", "/status", "/plan", "/view", "/events", "/metrics", "/nope"]) {
      for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: `Basic ${token}` }, { authorization: `Bearer ${token}x` }, { cookie: `${Dashboard.cookieName(port)}=wrong` }, { cookie: `${Dashboard.cookieName(8687)}=${token}` }, { cookie: `other=${token}` }]) {
        const answer = route("GET", url, host, headers)
        expect(answer, `${url} ${JSON.stringify(headers)}`).toMatchObject({ status: 401, headers: { "www-authenticate": expect.stringContaining("Bearer") } })
        expect((answer as Dashboard.Answer).body).not.toContain(token)
      }
      expect(route("GET", `${url}?token=wrong`, host, {})).toMatchObject({ status: 401 })
    }
    expect(route("GET", "/", host, { cookie: `a=b; ${Dashboard.cookieName(port)}=${token}; c=d` })).toMatchObject({ status: 200 })
    expect(route("GET", "/events", host, { cookie: `${Dashboard.cookieName(port)}=${token}` })).toBe("events")
    expect(route("GET", `/metrics?token=${token}`, host, {})).toBe("metrics")
    expect(route("GET", `/?token=${token}`, host, {})).toEqual({
      status: 303, headers: { location: "/", "set-cookie": `${Dashboard.cookieName(port)}=${token}; Path=/; HttpOnly; SameSite=Strict` }
    })
  })

  it("shows a hostile worker id as text: real run with --dashboard, real worker, real HTTP, the page's script on a DOM that refuses markup", async () => {
    const coordinatorPort = await freePort()
    const gate = path.join(tmp(), "open")
    const hostileId = `<img src=x onerror="alert(1)">`
    // A token the user chose: never printed.
    const dashboardToken = "chosen-dashboard-token-0123456789"
    const driver = spawn(process.execPath, [
      "bin/zephyr.js", "run", "test/runtime/fixtures/gated.ts", "--arg", `gate=${gate}`, "--backend", "external",
      "--listen", `127.0.0.1:${coordinatorPort}`, "--token", "secret", "--dashboard=0", "--print-results", "--no-progress"
    ], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ZEPHYR_DASHBOARD_TOKEN: dashboardToken } })
    let driverOut = "", driverErr = "", workerErr = ""
    driver.stdout!.on("data", (d) => { driverOut += d })
    driver.stderr!.on("data", (d) => { driverErr += d })
    const driverExit = new Promise<number | null>((resolve) => driver.on("exit", (code) => resolve(code)))
    let worker: ReturnType<typeof spawn> | undefined
    try {
      // --dashboard=0: a free port, printed with the URL (the token's place in it, not the token).
      const dashboardPort = await waitFor("the dashboard's URL", async () => {
        const m = /dashboard on http:\/\/127\.0\.0\.1:(\d+)\/\?token=<\$ZEPHYR_DASHBOARD_TOKEN> /.exec(driverErr)
        return m ? Number(m[1]) : undefined
      })
      const base = `http://127.0.0.1:${dashboardPort}`
      const fetch = (url: string) => globalThis.fetch(url, bearer(dashboardToken))
      const authorization = `Bearer ${dashboardToken}`
      worker = spawn(process.execPath, ["bin/zephyr.js", "worker", "--coordinator", `127.0.0.1:${coordinatorPort}`, "--token", "secret", "--worker-id", hostileId], { stdio: ["ignore", "ignore", "pipe"] })
      worker.stderr!.on("data", (d) => { workerErr += d })
      const status = await waitFor("the worker to register", () =>
        fetch(`${base}/status`).then((r) => r.json()).then((s: any) => (s.workers.some((w: any) => w.id === hostileId) ? s : undefined)))
      expect(status.workers.map((w: any) => w.id)).toEqual([hostileId]) // JSON data, not markup

      // The page: valid HTML, its script, stylesheet and icon by URL only, a strict CSP.
      const pageResponse = await fetch(`${base}/`)
      const html = await pageResponse.text()
      const csp = pageResponse.headers.get("content-security-policy") ?? ""
      expect(csp).toContain("default-src 'none'")
      expect(csp).toContain("script-src 'self'")
      expect(csp).not.toContain("unsafe-inline")
      expect(pageResponse.headers.get("x-content-type-options")).toBe("nosniff")
      expect(html).toMatch(/^<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">/)
      expect(html).toMatch(/<title>zephyr<\/title>[\s\S]*<\/head>\n<body>[\s\S]*<\/body>\n<\/html>\n$/)
      expect(html).toContain(`<script src="/dashboard.js" defer></script>`)
      expect(html).not.toMatch(/<script>|<style>|\son\w+=|\sstyle=/) // nothing inline for the CSP to forbid

      // The script: data only ever through textContent or setAttribute.
      const script = await fetch(`${base}/dashboard.js`).then((r) => r.text())
      expect(script).toContain(".textContent =")
      expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/)
      // The page's events carry the latest sampled view (every 250 ms): wait until it has the worker.
      await waitFor("the view to list the worker", () =>
        fetch(`${base}/view`).then((r) => r.json()).then((v: any) => (v.workers.some((w: any) => w.id === hostileId) ? true : undefined)))
      const rendered = await renderPage(dashboardPort, dashboardToken, script)
      const rows = rendered.byId.get("workers")!.children
      expect(rows).toHaveLength(1)
      expect(rows[0]!.children.map((c) => c.tag)).toEqual(["td", "td", "td", "td", "td", "td", "td"])
      expect(rows[0]!.children[0]!.textContent).toBe(hostileId)
      expect(rows[0]!.children[0]!.children).toHaveLength(0) // no element was made from the id
      expect(rendered.all().some((e) => e.tag.toLowerCase() === "img")).toBe(false)
      expect(rendered.byId.get("summary")!.textContent).toContain("stage 0 (1 of 1)")
      expect(rendered.all().filter((e) => e.attributes.get("data-stage") === "0")).toHaveLength(1) // the graph's box

      // Refusals over real HTTP.
      const rebound = await request(dashboardPort, { path: "/status", host: `attacker.example:${dashboardPort}` })
      expect(rebound.status).toBe(421)
      expect(rebound.body).not.toContain(hostileId)
      expect((await request(dashboardPort, { path: "/metrics", host: `attacker.example:${dashboardPort}` })).status).toBe(421)
      expect((await request(dashboardPort, { path: "/status", host: `localhost:${dashboardPort}`, headers: { authorization } })).status).toBe(200)

      // Without the token nothing is answered; the page's URL trades it for a cookie and leaves the address bar.
      for (const p of ["/", "/dashboard.js", "/status", "/plan", "/view", "/events", "/metrics"]) {
        const refused = await request(dashboardPort, { path: p })
        expect([p, refused.status]).toEqual([p, 401])
        expect(refused.body).not.toContain(hostileId)
        expect((await request(dashboardPort, { path: p, headers: { authorization: "Bearer not-the-token-0123456789" } })).status).toBe(401)
      }
      const entry = await request(dashboardPort, { path: `/?token=${dashboardToken}` })
      expect([entry.status, entry.headers.location]).toEqual([303, "/"])
      const cookie = entry.headers["set-cookie"]![0]!
      expect(cookie).toMatch(/; HttpOnly; SameSite=Strict$/)
      const withCookie = await request(dashboardPort, { path: "/status", headers: { cookie: cookie.split(";")[0]! } })
      expect(withCookie.status).toBe(200)
      expect(withCookie.body).toContain("stageProgress")
      for (const p of ["/", "/dashboard.js", "/status", "/view", "/metrics"]) expect((await request(dashboardPort, { path: p, headers: { authorization } })).body).not.toContain(dashboardToken)

      const post = await request(dashboardPort, { path: "/status", method: "POST" })
      expect(post.status).toBe(405)
      expect(post.headers.allow).toBe("GET, HEAD")
      expect((await request(dashboardPort, { path: "/plan", method: "DELETE" })).status).toBe(405)

      fs.writeFileSync(gate, "")
      expect(await driverExit).toBe(0)
      expect(driverOut.trim().split("\n")).toEqual(["10", "20"])
      expect(driverErr).not.toContain(dashboardToken)
    } catch (e) {
      process.stderr.write(`driver stderr:\n${driverErr}\nworker stderr:\n${workerErr}\n`)
      throw e
    } finally {
      driver.kill("SIGKILL")
      worker?.kill("SIGKILL")
    }
  }, 180_000)
})

/**
 * A minimal DOM for the page's script (the browser test, Dashboard.browser.test.ts, runs it in
 * Chromium): elements know only their text, attributes and children, and setting innerHTML
 * or outerHTML throws, so the test sees exactly what the script puts on the page.
 */
class FakeElement {
  textContent = ""
  hidden = false
  readonly children: Array<FakeElement> = []
  readonly attributes = new Map<string, string>()
  constructor(readonly tag: string) {}
  setAttribute(name: string, value: string) { this.attributes.set(name, String(value)) }
  append(...nodes: Array<FakeElement>) { this.children.push(...nodes) }
  replaceChildren(...nodes: Array<FakeElement>) { this.children.splice(0, this.children.length, ...nodes) }
  set innerHTML(_: string) { throw new Error("the dashboard script set innerHTML") }
  set outerHTML(_: string) { throw new Error("the dashboard script set outerHTML") }
  insertAdjacentHTML() { throw new Error("the dashboard script called insertAdjacentHTML") }
}

/** Runs the served script on the fake DOM and feeds it the first events of the real `/events`. */
const renderPage = async (port: number, token: string, script: string) => {
  const ids = ["title", "state", "overall", "summary", "error", "graph", "chart", "counters", "workers", "failures", "live"]
  const byId = new Map(ids.map((id) => [id, new FakeElement("div")]))
  const listeners = new Map<string, (e: { data: string }) => void>()
  class FakeEventSource {
    static readonly CLOSED = 2
    readyState = 1
    constructor(readonly url: string) { expect(url).toBe("/events") }
    addEventListener(name: string, f: (e: { data: string }) => void) { listeners.set(name, f) }
    close() { this.readyState = 2 }
  }
  const document = {
    title: "",
    getElementById: (id: string) => byId.get(id),
    createElement: (tag: string) => new FakeElement(tag),
    createElementNS: (_ns: string, tag: string) => new FakeElement(tag),
    write: () => { throw new Error("the dashboard script called document.write") }
  }
  vm.runInContext(script, vm.createContext({ document, EventSource: FakeEventSource, Node: FakeElement }))
  const events = followEvents(port, token)
  try {
    for (const name of ["graph", "view"]) {
      const e = (await events.next())!
      expect(e.event).toBe(name)
      listeners.get(name)!({ data: e.data })
    }
  } finally {
    events.close()
  }
  const all = () => {
    const out: Array<FakeElement> = []
    const walk = (e: FakeElement) => { out.push(e); e.children.forEach(walk) }
    byId.forEach(walk)
    return out
  }
  return { byId, all }
}
