import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import * as vm from "node:vm"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Dataset, Zephyr } from "zephyr"
import * as Dashboard from "../../runtime/Dashboard.ts"
import { useTempDirs } from "../TempDirs.ts"

const tmp = useTempDirs("zephyr-dashboard-")

const freePort = () => new Promise<number>((resolve) => {
  const s = net.createServer().listen(0, "127.0.0.1", () => {
    const port = (s.address() as net.AddressInfo).port
    s.close(() => resolve(port))
  })
})

/** One request with the Host header (and method) given, which fetch would not let us set. */
const request = (port: number, options: { path?: string; host?: string; method?: string }) =>
  new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: options.path ?? "/", method: options.method ?? "GET", headers: { host: options.host ?? `127.0.0.1:${port}` } }, (res) => {
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

/**
 * Runs the page's script in a minimal DOM (no browser harness yet): elements know only
 * textContent and children, and setting innerHTML (or outerHTML) throws, so the test sees
 * exactly what the script puts on the page.
 */
class FakeElement {
  textContent = ""
  readonly children: Array<FakeElement> = []
  constructor(readonly tag: string) {}
  append(...nodes: Array<FakeElement>) { this.children.push(...nodes) }
  replaceChildren(...nodes: Array<FakeElement>) { this.children.splice(0, this.children.length, ...nodes) }
  set innerHTML(_: string) { throw new Error("the dashboard script set innerHTML") }
  set outerHTML(_: string) { throw new Error("the dashboard script set outerHTML") }
  insertAdjacentHTML() { throw new Error("the dashboard script called insertAdjacentHTML") }
}
const renderPage = async (port: number) => {
  const byId = new Map(["title", "summary", "workers"].map((id) => [id, new FakeElement(id)]))
  let status: Promise<unknown> | undefined
  const context = vm.createContext({
    document: {
      getElementById: (id: string) => byId.get(id),
      createElement: (tag: string) => new FakeElement(tag),
      write: () => { throw new Error("the dashboard script called document.write") }
    },
    // The real /status over HTTP; the test waits for the same JSON the script awaits.
    fetch: async (url: string, init: RequestInit) => {
      const response = await fetch(`http://127.0.0.1:${port}${url}`, init)
      status = response.json()
      return { json: () => status }
    },
    setInterval: () => 0,
    String
  })
  const script = await fetch(`http://127.0.0.1:${port}/dashboard.js`).then((r) => r.text())
  vm.runInContext(script, context)
  await waitFor("the script's request", async () => status)
  await status
  await new Promise((r) => setImmediate(r)) // the script's code after its await has run
  return byId
}

describe("dashboard", () => {
  it("serves a page, the status and the plan while a run is under way, and stops with it", async () => {
    const port = await freePort()
    const slow = Dataset.fromList([1, 2, 3, 4]).mapEffect((n) => Effect.sleep("1 second").pipe(Effect.as(n * 2)))
    const run = Zephyr.run(slow, { workers: 2, dashboard: port })
    let status: any
    for (let i = 0; i < 100 && !status?.total; i++) {
      await new Promise((r) => setTimeout(r, 50))
      status = await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.json(), () => undefined)
    }
    expect(status).toMatchObject({ stage: 0, stages: 1, total: 4, done: false })
    expect(status.workers).toHaveLength(2)
    expect(await fetch(`http://127.0.0.1:${port}/`).then((r) => r.text())).toContain("<title>zephyr</title>")
    const plan = (await fetch(`http://127.0.0.1:${port}/plan`).then((r) => r.json())) as { stages: Array<{ ops: Array<{ kind: string }> }> }
    expect(plan.stages[0]!.ops[0]!.kind).toBe("mapEffect")
    expect((await run).results).toEqual([2, 4, 6, 8])
    await expect(fetch(`http://127.0.0.1:${port}/status`)).rejects.toThrow()
  })

  it("refuses other Host headers (DNS rebinding) and other methods; the page is valid HTML under a strict CSP", () => {
    const port = 8686
    for (const host of ["127.0.0.1:8686", "localhost:8686", "LOCALHOST:8686", "[::1]:8686"]) {
      expect(Dashboard.route("GET", "/", host, port)).toMatchObject({ status: 200 })
    }
    for (const host of [undefined, "", "evil.example:8686", "127.0.0.1", "127.0.0.1:8687", "localhost.evil.example:8686", "127.0.0.1:8686.evil.example"]) {
      expect(Dashboard.route("GET", "/status", host, port)).toMatchObject({ status: 421 })
    }
    expect(Dashboard.route("GET", "/", "localhost", 80)).toMatchObject({ status: 200 })
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      expect(Dashboard.route(method, "/status", "127.0.0.1:8686", port)).toMatchObject({ status: 405, headers: { allow: "GET, HEAD" } })
    }
    expect(Dashboard.route("GET", "/status?x=1", "127.0.0.1:8686", port)).toBe("status")
    expect(Dashboard.route("HEAD", "/plan", "127.0.0.1:8686", port)).toBe("plan")
    expect(Dashboard.route("GET", "/nope", "127.0.0.1:8686", port)).toMatchObject({ status: 404 })
  })

  it("shows a hostile worker id as text: real run with --dashboard, real worker, real HTTP", async () => {
    const [coordinatorPort, dashboardPort] = [await freePort(), await freePort()]
    const gate = path.join(tmp(), "open")
    const hostileId = `<img src=x onerror="alert(1)">`
    const driver = spawn(process.execPath, [
      "bin/zephyr.js", "run", "test/runtime/fixtures/gated.ts", "--arg", `gate=${gate}`, "--backend", "external",
      "--listen", `127.0.0.1:${coordinatorPort}`, "--token", "secret", `--dashboard=${dashboardPort}`, "--print-results", "--no-progress"
    ], { stdio: ["ignore", "pipe", "pipe"] })
    let driverOut = "", driverErr = "", workerErr = ""
    driver.stdout!.on("data", (d) => { driverOut += d })
    driver.stderr!.on("data", (d) => { driverErr += d })
    const driverExit = new Promise<number | null>((resolve) => driver.on("exit", (code) => resolve(code)))
    let worker: ReturnType<typeof spawn> | undefined
    try {
      const base = `http://127.0.0.1:${dashboardPort}`
      await waitFor("the dashboard", () => fetch(`${base}/status`).then((r) => (r.ok ? true : undefined)))
      worker = spawn(process.execPath, ["bin/zephyr.js", "worker", "--coordinator", `127.0.0.1:${coordinatorPort}`, "--token", "secret", "--worker-id", hostileId], { stdio: ["ignore", "ignore", "pipe"] })
      worker.stderr!.on("data", (d) => { workerErr += d })
      const status = await waitFor("the worker to register", () =>
        fetch(`${base}/status`).then((r) => r.json()).then((s: any) => (s.workers.some((w: any) => w.id === hostileId) ? s : undefined)))
      expect(status.workers.map((w: any) => w.id)).toEqual([hostileId]) // JSON data, not markup

      // The page: valid HTML, its script and stylesheet by URL only, a strict CSP.
      const pageResponse = await fetch(`${base}/`)
      const html = await pageResponse.text()
      expect(pageResponse.headers.get("content-type")).toBe("text/html; charset=utf-8")
      const csp = pageResponse.headers.get("content-security-policy") ?? ""
      expect(csp).toContain("default-src 'none'")
      expect(csp).toContain("script-src 'self'")
      expect(csp).not.toContain("unsafe-inline")
      expect(pageResponse.headers.get("x-content-type-options")).toBe("nosniff")
      expect(html).toMatch(/^<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">/)
      expect(html).toMatch(/<title>zephyr<\/title>[\s\S]*<\/head>\n<body>[\s\S]*<\/body>\n<\/html>\n$/)
      expect(html).toContain(`<script src="/dashboard.js" defer></script>`)
      expect(html).not.toMatch(/<script>|<style>|\son\w+=|\sstyle=/) // nothing inline for the CSP to forbid

      // The script: data only ever through textContent.
      const scriptResponse = await fetch(`${base}/dashboard.js`)
      const script = await scriptResponse.text()
      expect(scriptResponse.headers.get("content-type")).toBe("text/javascript; charset=utf-8")
      expect(scriptResponse.headers.get("x-content-type-options")).toBe("nosniff")
      expect(script).toContain(".textContent =")
      expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/)
      const rendered = await renderPage(dashboardPort)
      const rows = rendered.get("workers")!.children
      expect(rows).toHaveLength(1)
      expect(rows[0]!.children.map((c) => c.tag)).toEqual(["td", "td", "td", "td", "td", "td"])
      expect(rows[0]!.children[0]!.textContent).toBe(hostileId)
      expect(rows[0]!.children.every((c) => c.children.length === 0)).toBe(true) // no element was made from the id
      expect(rendered.get("summary")!.textContent).toContain("stage 0 of 1")

      // Refusals over real HTTP.
      const rebound = await request(dashboardPort, { path: "/status", host: `attacker.example:${dashboardPort}` })
      expect(rebound.status).toBe(421)
      expect(rebound.body).not.toContain(hostileId)
      expect((await request(dashboardPort, { path: "/status", host: `localhost:${dashboardPort}` })).status).toBe(200)
      const post = await request(dashboardPort, { path: "/status", method: "POST" })
      expect(post.status).toBe(405)
      expect(post.headers.allow).toBe("GET, HEAD")
      expect((await request(dashboardPort, { path: "/plan", method: "DELETE" })).status).toBe(405)

      fs.writeFileSync(gate, "")
      expect(await driverExit).toBe(0)
      expect(driverOut.trim().split("\n")).toEqual(["10", "20"])
    } catch (e) {
      process.stderr.write(`driver stderr:\n${driverErr}\nworker stderr:\n${workerErr}\n`)
      throw e
    } finally {
      driver.kill("SIGKILL")
      worker?.kill("SIGKILL")
    }
  }, 180_000)
})
