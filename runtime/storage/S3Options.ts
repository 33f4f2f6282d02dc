import { ZephyrPlanError } from "../../plan/Errors.ts"

/**
 * How to reach S3-compatible object storage: the endpoint, the region and the addressing
 * style. Credentials are not here: every process (driver, each worker) takes them from its
 * own environment through the AWS SDK's default chain (AWS_ACCESS_KEY_ID and
 * AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, web identity, instance roles), so they
 * never travel in a job spec or show in a log.
 */
export interface Options {
  /** e.g. http://127.0.0.1:9000 for MinIO; default $AWS_ENDPOINT_URL_S3, else $AWS_ENDPOINT_URL, else AWS. */
  readonly endpoint?: string | undefined
  /** Default $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1 (requests follow a bucket's region redirect). */
  readonly region?: string | undefined
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`; default: on with a custom endpoint. */
  readonly forcePathStyle?: boolean | undefined
}

/** The settings a process uses, and where each came from (for messages that name the option to fix). */
export interface Settings {
  readonly endpoint: string | undefined
  readonly region: string
  readonly forcePathStyle: boolean
  /** The option or variable the endpoint came from, e.g. "--s3-endpoint (s3Endpoint)". */
  readonly endpointFrom: string
  readonly regionFrom: string
}

export const ENDPOINT_OPTION = "--s3-endpoint / option s3Endpoint"
export const REGION_OPTION = "--s3-region / option s3Region"
export const PATH_STYLE_OPTION = "--s3-force-path-style / option s3ForcePathStyle"
/** What the SDK's credential chain reads, as messages name it (never a value). */
export const CREDENTIALS = "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or an instance role)"

const DEFAULT_REGION = "us-east-1"

const bad = (option: string, value: unknown, expected: string): never => {
  throw new ZephyrPlanError({ reason: "invalid-option", message: `Invalid option ${option}: ${JSON.stringify(value)}; expected ${expected}.` })
}

const checkEndpoint = (endpoint: string, from: string): string => {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    return bad(from, endpoint, "a URL such as http://127.0.0.1:9000 or https://s3.example.com")
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") bad(from, endpoint, "an http:// or https:// URL")
  // Credentials in the URL would be sent in the clear to whoever reads logs and job specs.
  if (url.username !== "" || url.password !== "") {
    throw new ZephyrPlanError({ reason: "invalid-option", message: `Invalid option ${from}: the endpoint URL must not carry a user name or password; give credentials through ${CREDENTIALS}.` })
  }
  return endpoint
}

const nonEmpty = (value: string | undefined): string | undefined => (value === undefined || value.trim() === "" ? undefined : value.trim())

/**
 * The settings from explicit options, then the standard AWS variables of `env`. A custom
 * endpoint turns path-style addressing on unless told otherwise: MinIO, Ceph and most
 * compatible stores serve it, while virtual-hosted style needs wildcard DNS.
 */
export const resolve = (options: Options, env: NodeJS.ProcessEnv = process.env): Settings => {
  const fromOption = nonEmpty(options.endpoint)
  const fromS3Env = nonEmpty(env.AWS_ENDPOINT_URL_S3)
  const fromEnv = nonEmpty(env.AWS_ENDPOINT_URL)
  const endpointFrom = fromOption !== undefined ? ENDPOINT_OPTION : fromS3Env !== undefined ? "$AWS_ENDPOINT_URL_S3" : fromEnv !== undefined ? "$AWS_ENDPOINT_URL" : "none"
  const raw = fromOption ?? fromS3Env ?? fromEnv
  const endpoint = raw === undefined ? undefined : checkEndpoint(raw, endpointFrom)
  if (options.region !== undefined && nonEmpty(options.region) === undefined) bad(REGION_OPTION, options.region, "a region name such as us-east-1")
  const regionOption = nonEmpty(options.region)
  const region = regionOption ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? DEFAULT_REGION
  const regionFrom = regionOption !== undefined ? REGION_OPTION : nonEmpty(env.AWS_REGION) !== undefined ? "$AWS_REGION" : nonEmpty(env.AWS_DEFAULT_REGION) !== undefined ? "$AWS_DEFAULT_REGION" : `default (none of ${REGION_OPTION}, $AWS_REGION, $AWS_DEFAULT_REGION is set)`
  if (options.forcePathStyle !== undefined && typeof options.forcePathStyle !== "boolean") bad(PATH_STYLE_OPTION, options.forcePathStyle, "true or false")
  return { endpoint, region, forcePathStyle: options.forcePathStyle ?? endpoint !== undefined, endpointFrom, regionFrom }
}

/** What the driver hands its workers (in the job spec): the settings, not where they came from, and never credentials. */
export interface Shared {
  readonly endpoint?: string | undefined
  readonly region: string
  readonly forcePathStyle: boolean
}

export const share = (s: Settings): Shared => ({ ...(s.endpoint !== undefined ? { endpoint: s.endpoint } : {}), region: s.region, forcePathStyle: s.forcePathStyle })

/** A worker's settings: the driver's, so that every process talks to the same store. */
export const fromDriver = (shared: Shared): Settings => ({
  endpoint: shared.endpoint,
  region: shared.region,
  forcePathStyle: shared.forcePathStyle,
  endpointFrom: shared.endpoint === undefined ? "none" : DRIVER,
  regionFrom: DRIVER
})

const DRIVER = "the driver"

/** Where the endpoint is set, as a message tells the user to fix it. */
export const endpointAdvice = (s: Settings): string =>
  s.endpointFrom === DRIVER ? `workers use the driver's, set there by ${ENDPOINT_OPTION} or $AWS_ENDPOINT_URL`
  : s.endpointFrom === "none" ? `none is set, so requests go to AWS S3; set one with ${ENDPOINT_OPTION} or $AWS_ENDPOINT_URL`
  : `it is set by ${s.endpointFrom}`

/** Where the region is set, likewise. */
export const regionAdvice = (s: Settings): string =>
  s.regionFrom === DRIVER ? `workers use the driver's, set there by ${REGION_OPTION} or $AWS_REGION` : `it is set by ${s.regionFrom}`
