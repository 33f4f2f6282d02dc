import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import * as k8s from "@kubernetes/client-node"
import { ObjectSerializer } from "@kubernetes/client-node/dist/gen/models/ObjectSerializer.js"
import { describe, expect, it } from "vitest"
import { useTempDirs } from "../../TempDirs.ts"
import * as Samples from "./KubernetesSamples.ts"

/**
 * The objects the kubernetes backend creates, and the manifests shipped in
 * examples/kubernetes/, checked against the Kubernetes schema without a cluster (CI has none):
 *
 * - with the typed model of @kubernetes/client-node (generated from Kubernetes' OpenAPI
 *   document): every field must be one the model knows, with a value of its type, and the
 *   object must come back unchanged from deserialize then serialize (the client would
 *   silently drop a field it does not know);
 * - with kubectl, where it can check offline: `kubectl create --dry-run=client` and
 *   `--validate` both need the API server (its discovery and OpenAPI documents) and fail
 *   without one, with or without `--validate=false`; but the `--local` mode of `kubectl set`
 *   decodes a file with kubectl's own compiled-in Go types, which refuses an unknown
 *   apiVersion/kind and a value of the wrong type and drops unknown fields. That covers Jobs
 *   (`set env`), Services (`set selector`) and RoleBindings (`set subject`); no offline
 *   kubectl command decodes Secrets, Roles, ServiceAccounts or claims, which only the typed
 *   model checks.
 */

type Attribute = { readonly name: string; readonly baseName: string; readonly type: string; readonly format: string }
const models = k8s as unknown as Record<string, { getAttributeTypeMap?: () => ReadonlyArray<Attribute> } | undefined>

/** The model type of each kind the backend and the examples use. */
const modelOf: Record<string, string> = {
  "batch/v1 Job": "V1Job",
  "v1 Secret": "V1Secret",
  "v1 Service": "V1Service",
  "v1 ServiceAccount": "V1ServiceAccount",
  "v1 PersistentVolumeClaim": "V1PersistentVolumeClaim",
  "rbac.authorization.k8s.io/v1 Role": "V1Role",
  "rbac.authorization.k8s.io/v1 RoleBinding": "V1RoleBinding"
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date)

/** Every field the model does not know, and every value not of its field's type, with its path. */
export const problems = (value: unknown, type: string, format = "", at = "$"): Array<string> => {
  if (value === undefined) return []
  if (value === null) return [`${at}: null`]
  const array = /^Array<(.+)>$/.exec(type)
  if (array) return Array.isArray(value) ? value.flatMap((v, i) => problems(v, array[1]!, "", `${at}[${i}]`)) : [`${at}: expected a list of ${array[1]}`]
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type)
  if (map) return isPlainObject(value) ? Object.entries(value).flatMap(([k, v]) => problems(v, map[1]!, "", `${at}.${k}`)) : [`${at}: expected a map of ${map[1]}`]
  switch (type) {
    case "string": return typeof value === "string" ? [] : [`${at}: expected a string, got ${JSON.stringify(value)}`]
    case "boolean": return typeof value === "boolean" ? [] : [`${at}: expected a boolean, got ${JSON.stringify(value)}`]
    case "number":
      if (typeof value !== "number") return [`${at}: expected a number, got ${JSON.stringify(value)}`]
      return (format === "int32" || format === "int64") && !Number.isInteger(value) ? [`${at}: expected an integer (${format})`] : []
    case "Date": return value instanceof Date || (typeof value === "string" && !Number.isNaN(Date.parse(value))) ? [] : [`${at}: expected a date`]
    case "IntOrString": return (typeof value === "number" && Number.isInteger(value)) || typeof value === "string" ? [] : [`${at}: expected an integer or a string`]
    case "any": return []
  }
  const attributes = models[type]?.getAttributeTypeMap?.()
  if (!attributes) return [`${at}: no model ${type}`]
  if (!isPlainObject(value)) return [`${at}: expected an object (${type})`]
  const known = new Map(attributes.map((a) => [a.baseName, a]))
  return Object.entries(value).flatMap(([k, v]) => {
    const a = known.get(k)
    return a ? problems(v, a.type, a.format, `${at}.${k}`) : [`${at}.${k}: not a field of ${type}`]
  })
}

const withoutUndefined = (v: unknown): unknown => JSON.parse(JSON.stringify(v))

const typeOf = (object: { apiVersion?: string; kind?: string }): string => {
  const t = modelOf[`${object.apiVersion} ${object.kind}`]
  if (!t) throw new Error(`apiVersion ${object.apiVersion} kind ${object.kind} is not a kind these manifests may use (${Object.keys(modelOf).join(", ")})`)
  return t
}

/** What kubectl's Go types keep of the object, read offline; undefined when no `kubectl set` takes its kind. */
const kubectlDecoded = (object: Record<string, any>, dir: string): unknown => {
  const file = path.join(dir, `${object.kind}-${object.metadata?.name}.json`)
  fs.writeFileSync(file, JSON.stringify(object))
  const args = object.kind === "Job" ? ["set", "env", "ZEPHYR_KUBECTL_CHECK=1"]
    : object.kind === "Service" ? ["set", "selector", Object.entries(object.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(",")]
    : object.kind === "RoleBinding" ? ["set", "subject", "--user=zephyr-kubectl-check"]
    : undefined
  if (!args) return undefined
  // --local: nothing is sent anywhere; an empty HOME keeps any kubeconfig out of it.
  const r = spawnSync("kubectl", [...args, "--local", "-f", file, "-o", "json"], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: dir } })
  if (r.status !== 0 || r.stderr.trim() !== "") throw new Error(`kubectl could not decode ${object.kind} ${object.metadata?.name}: ${r.stderr.trim()}`)
  const out = JSON.parse(r.stdout)
  // What the command itself added, and the empty fields Go's encoder writes.
  if (out.metadata?.creationTimestamp === null) delete out.metadata.creationTimestamp
  if (out.spec?.template?.metadata?.creationTimestamp === null) delete out.spec.template.metadata.creationTimestamp
  if (out.status && Object.values(out.status).every((v) => isPlainObject(v) && Object.keys(v).length === 0)) delete out.status
  for (const c of out.spec?.template?.spec?.containers ?? []) {
    c.env = c.env.filter((e: { name: string }) => e.name !== "ZEPHYR_KUBECTL_CHECK")
    if (c.env.length === 0) delete c.env
  }
  if (object.kind === "RoleBinding") out.subjects = out.subjects.filter((s: { name: string }) => s.name !== "zephyr-kubectl-check")
  return out
}

/** kubectl's client version, when it is installed. */
const kubectlVersion = (() => {
  const r = spawnSync("kubectl", ["version", "--client", "-o", "json"], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", HOME: "/nonexistent" } })
  if (r.status !== 0) return undefined
  const v = JSON.parse(r.stdout).clientVersion as { major: string; minor: string }
  return { major: Number(v.major), minor: Number.parseInt(v.minor, 10), text: `${v.major}.${v.minor}` }
})()
/** backoffLimitPerIndex, podReplacementPolicy: older kubectl types drop them. */
const kubectlKnowsTheJobFields = kubectlVersion !== undefined && (kubectlVersion.major > 1 || kubectlVersion.minor >= 29)

const examples = fs.readdirSync("examples/kubernetes").filter((f) => f.endsWith(".yaml")).sort()
const manifests = (): Array<readonly [string, Record<string, any>]> => [
  ...Object.entries(Samples.rendered()).map(([name, o]) => [`rendered ${name}`, withoutUndefined(o) as Record<string, any>] as const),
  ...examples.flatMap((f) => k8s.loadAllYaml(fs.readFileSync(path.join("examples/kubernetes", f), "utf8")).map((o) => [`examples/kubernetes/${f}: ${(o as any).kind} ${(o as any).metadata?.name}`, o as Record<string, any>] as const))
]

const tmp = useTempDirs("zephyr-kubectl-")

describe("Kubernetes objects against the schema", () => {
  it("ships the manifests the README names", () => {
    expect(examples).toEqual(["driver.yaml", "rbac.yaml"])
  })

  for (const [name, object] of manifests()) {
    it(`${name}: every field is one of its kind's typed model, of the right type, and survives the client's round trip`, () => {
      const type = typeOf(object)
      expect(problems(object, type)).toEqual([])
      expect(withoutUndefined(ObjectSerializer.serialize(ObjectSerializer.deserialize(object, type, ""), type, ""))).toEqual(object)
    })
  }

  it("the typed-model check catches what a cluster would refuse or drop", () => {
    const job = withoutUndefined(Samples.rendered()["job-by-address"]) as Record<string, any>
    const spec = job.spec.template.spec
    expect(problems({ ...job, spec: { ...job.spec, completion: 3 } }, "V1Job")).toEqual(["$.spec.completion: not a field of V1JobSpec"])
    expect(problems({ ...job, spec: { ...job.spec, completions: "3" } }, "V1Job")).toEqual(['$.spec.completions: expected a number, got "3"'])
    expect(problems({ ...job, spec: { ...job.spec, template: { ...job.spec.template, spec: { ...spec, containers: [{ ...spec.containers[0], envFrom: "x" }] } } } }, "V1Job"))
      .toEqual(["$.spec.template.spec.containers[0].envFrom: expected a list of V1EnvFromSource"])
    expect(() => typeOf({ apiVersion: "batch/v1beta1", kind: "Job" })).toThrow("is not a kind these manifests may use")
  })

  describe("kubectl, offline", () => {
    const why = kubectlVersion === undefined
      ? "kubectl is not installed (Debian: kubernetes-client), so only the typed model checks the objects"
      : !kubectlKnowsTheJobFields ? `kubectl ${kubectlVersion.text} predates the Job fields used here (1.29+), so only the typed model checks the objects` : undefined
    if (why) {
      it.skip(`skipped: ${why}`, () => undefined)
      return
    }
    for (const [name, object] of manifests()) {
      if (!["Job", "Service", "RoleBinding"].includes(object.kind)) continue
      it(`${name}: kubectl ${kubectlVersion!.text}'s Go types decode it and keep every field`, () => {
        expect(kubectlDecoded(object, tmp())).toEqual(object)
      })
    }

    it("kubectl refuses an unknown kind or a value of the wrong type, and drops an unknown field", () => {
      const dir = tmp()
      const job = withoutUndefined(Samples.rendered()["job-by-address"]) as Record<string, any>
      expect(() => kubectlDecoded({ ...job, apiVersion: "batch/v9" }, dir)).toThrow('no kind "Job" is registered for version "batch/v9"')
      expect(() => kubectlDecoded({ ...job, spec: { ...job.spec, completions: "3" } }, dir)).toThrow("cannot unmarshal string")
      expect(kubectlDecoded({ ...job, spec: { ...job.spec, completion: 3 } }, dir)).toEqual(job)
    })
  })
})
