import * as path from "node:path"
import { ZephyrPlanError } from "../../plan/Errors.ts"

/**
 * Paths of the places Zephyr reads and writes: a local path, or an object-storage URL
 * `s3://bucket/key`. The key is taken as written (no percent-decoding, as the AWS CLI
 * takes it); `/` separates its "directories", which object storage only knows as key
 * prefixes. Every path operation of the runtime that may meet a URL (joining, a parent,
 * a base name) goes through here: `path.join` would fold `s3://` into `s3:/`.
 */

export const S3_SCHEME = "s3://"

export interface S3Location {
  readonly bucket: string
  /** Without a leading `/`; may be empty (the bucket's root) or end with `/` (a prefix). */
  readonly key: string
}

/** Whether `p` names an object in S3-compatible storage. */
export const isS3 = (p: string): boolean => p.startsWith(S3_SCHEME)

// S3's rules are stricter (3-63 lowercase characters), but compatible stores and old
// buckets allow more; what matters here is that the name cannot be confused with a key.
const bucketPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/

const invalid = (url: string, problem: string, option: string | undefined): ZephyrPlanError =>
  new ZephyrPlanError({
    reason: "invalid-url",
    message: `Invalid object storage URL ${JSON.stringify(url)}${option ? ` (${option})` : ""}: ${problem}. Write s3://BUCKET/KEY, e.g. s3://my-bucket/data/part-0.jsonl.`
  })

/**
 * The bucket and key of an `s3://` URL. Throws a ZephyrPlanError (`invalid-url`) naming
 * `option` (the flag or call the URL came from) when it has no bucket, a bucket name that
 * is not one, or an empty path segment (`s3://b//k`: keys like that exist, but are almost
 * always a mistake in a joined path).
 */
export const parse = (url: string, option?: string): S3Location => {
  if (!isS3(url)) throw invalid(url, "it does not start with s3://", option)
  const rest = url.slice(S3_SCHEME.length)
  const slash = rest.indexOf("/")
  const bucket = slash < 0 ? rest : rest.slice(0, slash)
  const key = slash < 0 ? "" : rest.slice(slash + 1)
  if (bucket.length === 0) throw invalid(url, "it names no bucket", option)
  if (!bucketPattern.test(bucket)) throw invalid(url, `${JSON.stringify(bucket)} is not a bucket name (letters, digits, '.', '-' and '_')`, option)
  if (key.startsWith("/") || key.includes("//")) throw invalid(url, "its key has an empty path segment (//)", option)
  return { bucket, key }
}

export const format = (location: S3Location): string => `${S3_SCHEME}${location.bucket}/${location.key}`

/** Joins path segments: with `/` under a URL, as `path.join` does for a local path. */
export const join = (base: string, ...parts: ReadonlyArray<string>): string => {
  if (!isS3(base)) return path.join(base, ...parts)
  let out = base.endsWith("/") ? base.slice(0, -1) : base
  for (const part of parts) {
    for (const segment of part.split("/")) {
      if (segment === "" || segment === ".") continue
      if (segment === "..") throw new Error(`Internal: ".." in a path joined under ${base}`)
      out += `/${segment}`
    }
  }
  return out
}

/** The parent "directory": everything before the last `/` of a URL's key (the bucket's root at most). */
export const dirname = (p: string): string => {
  if (!isS3(p)) return path.dirname(p)
  const trimmed = p.endsWith("/") ? p.slice(0, -1) : p
  const { bucket, key } = parse(trimmed)
  const slash = key.lastIndexOf("/")
  return slash < 0 ? `${S3_SCHEME}${bucket}` : `${S3_SCHEME}${bucket}/${key.slice(0, slash)}`
}

export const basename = (p: string): string => {
  if (!isS3(p)) return path.basename(p)
  const trimmed = p.endsWith("/") ? p.slice(0, -1) : p
  return trimmed.slice(trimmed.lastIndexOf("/") + 1)
}

/** An absolute local path (against the working directory), or the URL as it is. */
export const resolve = (p: string): string => (isS3(p) ? p : path.resolve(p))

/** Whether `p` is `dir` or lies below it (URLs by key prefix at a `/`, local paths after resolving). */
export const isUnder = (p: string, dir: string): boolean => {
  if (isS3(dir) || isS3(p)) {
    if (!isS3(dir) || !isS3(p)) return false
    const base = dir.endsWith("/") ? dir.slice(0, -1) : dir
    return p === base || p.startsWith(`${base}/`)
  }
  const rel = path.relative(path.resolve(dir), path.resolve(p))
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel))
}

/** A URL's key as a prefix that lists what lies below it (`data` → `data/`; the root → ``). */
export const prefixOf = (location: S3Location): string =>
  location.key === "" || location.key.endsWith("/") ? location.key : `${location.key}/`
