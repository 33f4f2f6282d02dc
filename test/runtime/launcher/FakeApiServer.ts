import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import type { FakeCluster } from "./FakeCluster.ts"

/**
 * The REST endpoints of the Kubernetes API server that the kubernetes launcher calls, over
 * HTTP on 127.0.0.1, in front of a FakeCluster: a driver started with a kubeconfig naming it
 * runs the real client (@kubernetes/client-node) end to end. Every request is recorded, with
 * its content type and credentials. Anything else is answered 404 and recorded as such.
 */

export interface Request {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  readonly contentType: string | undefined
  readonly authorization: string | undefined
  readonly body: unknown
  readonly status: number
}

const status = (code: number, reason: string, message: string) => ({ kind: "Status", apiVersion: "v1", metadata: {}, status: code < 300 ? "Success" : "Failure", reason, message, code })

export interface FakeApiServer {
  readonly url: string
  readonly requests: Array<Request>
  /** A kubeconfig whose current context is this server, with a bearer token and `namespace`. */
  readonly kubeconfig: (dir: string, namespace: string) => string
  readonly close: () => Promise<void>
}

export const start = async (cluster: FakeCluster): Promise<FakeApiServer> => {
  const requests: Array<Request> = []
  const route = (method: string, pathname: string, query: URLSearchParams, body: any): [number, unknown] => {
    let m: RegExpExecArray | null
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs$/.exec(pathname)) && method === "POST") return [201, cluster.createJob(m[1]!, body)]
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs\/([^/]+)$/.exec(pathname))) {
      const [, namespace, name] = m as unknown as [string, string, string]
      if (method === "GET") {
        const job = cluster.readJob(namespace, name)
        return job ? [200, job] : [404, status(404, "NotFound", `jobs.batch "${name}" not found`)]
      }
      if (method === "PATCH") {
        const ops = body as Array<{ op: string; path: string; value: unknown }>
        if (!Array.isArray(ops) || ops.length !== 1 || ops[0]!.op !== "replace" || ops[0]!.path !== "/spec/suspend" || ops[0]!.value !== false) {
          return [422, status(422, "Invalid", `this fake applies only [{"op":"replace","path":"/spec/suspend","value":false}], got ${JSON.stringify(body)}`)]
        }
        cluster.resumeJob(namespace, name)
        return [200, cluster.readJob(namespace, name)]
      }
      if (method === "DELETE") {
        if (!cluster.jobs.has(`${namespace}/${name}`)) return [404, status(404, "NotFound", `jobs.batch "${name}" not found`)]
        cluster.deleteJob(namespace, name)
        return [200, status(200, "", "")]
      }
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|services)$/.exec(pathname)) && method === "POST") {
      if (m[2] === "secrets") cluster.createSecret(m[1]!, body)
      else cluster.createService(m[1]!, body)
      return [201, body]
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/(secrets|services)\/([^/]+)$/.exec(pathname)) && method === "DELETE") {
      const store = m[2] === "secrets" ? cluster.secrets : cluster.services
      if (!store.has(`${m[1]}/${m[3]}`)) return [404, status(404, "NotFound", `${m[2]} "${m[3]}" not found`)]
      if (m[2] === "secrets") cluster.deleteSecret(m[1]!, m[3]!)
      else cluster.deleteService(m[1]!, m[3]!)
      return [200, status(200, "", "")]
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(pathname)) && method === "GET") {
      return [200, { apiVersion: "v1", kind: "PodList", metadata: { resourceVersion: "1" }, items: cluster.listPods(m[1]!, query.get("labelSelector") ?? "") }]
    }
    return [404, status(404, "NotFound", `the fake API server has no ${method} ${pathname}`)]
  }

  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      const text = Buffer.concat(chunks).toString()
      let body: unknown
      try { body = text ? JSON.parse(text) : undefined } catch { body = text }
      let code: number, answer: unknown
      try {
        [code, answer] = route(req.method ?? "GET", url.pathname, url.searchParams, body)
      } catch (e) {
        // A refusal the test asked for: an ApiException-shaped error (FakeCluster.apiException).
        const refusal = e as { code?: number; body?: string }
        code = refusal.code ?? 500
        answer = refusal.body ? JSON.parse(refusal.body) : status(500, "InternalError", String(e))
      }
      requests.push({
        method: req.method ?? "", path: url.pathname, query: Object.fromEntries(url.searchParams), contentType: req.headers["content-type"],
        authorization: req.headers.authorization, body, status: code
      })
      res.writeHead(code, { "content-type": "application/json" })
      res.end(JSON.stringify(answer))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    requests,
    kubeconfig: (dir, namespace) => {
      const file = path.join(dir, "kubeconfig")
      fs.writeFileSync(file, [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        // Plain HTTP on loopback: the client accepts it only without TLS verification.
        `- name: fake\n  cluster:\n    server: ${url}\n    insecure-skip-tls-verify: true`,
        "users:",
        "- name: driver\n  user:\n    token: fake-api-token",
        "contexts:",
        `- name: fake\n  context:\n    cluster: fake\n    user: driver\n    namespace: ${namespace}`,
        "current-context: fake",
        ""
      ].join("\n"))
      return file
    },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
