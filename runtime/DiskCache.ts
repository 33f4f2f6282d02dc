import * as fs from "node:fs"
import * as path from "node:path"
import { Effect } from "effect"
import * as Digest from "../plan/Digest.ts"
import * as AtomicWrite from "./storage/AtomicWrite.ts"
import * as BlockFile from "./storage/BlockFile.ts"
import * as Directory from "./storage/Directory.ts"

/**
 * Runs an Effect once per argument fingerprint and keeps its result on disk, reused across
 * runs and processes. The result is written under a temporary name and published with an
 * exclusive hard link, flushed to disk: when workers race, the first to publish wins and
 * the others read its result, so everyone agrees on one value. An entry that cannot be read
 * back is a miss (with a warning), computed again and replaced.
 */
export interface Options {
  /** Default: $ZEPHYR_CACHE_DIR, else .zephyr/cache under the working directory. */
  readonly dir?: string | undefined
}

export const defaultDir = (): string => process.env.ZEPHYR_CACHE_DIR ?? path.join(process.cwd(), ".zephyr", "cache")

export const pathFor = (name: string, args: ReadonlyArray<unknown>, options: Options = {}): string =>
  path.join(options.dir ?? defaultDir(), `${name.replace(/[^\w.-]/g, "_")}-${Digest.digest([name, args], 24)}.msgpack`)

type Lookup =
  | { readonly kind: "hit"; readonly value: unknown }
  | { readonly kind: "miss" }
  /** An entry that cannot be decoded (a torn write from before entries were flushed, a disk error). */
  | { readonly kind: "unreadable"; readonly problem: string }

const read = (file: string): Lookup => {
  let bytes: Uint8Array
  try {
    bytes = fs.readFileSync(file)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { kind: "miss" }
    return { kind: "unreadable", problem: (e as Error).message }
  }
  try {
    const entry = BlockFile.decode(bytes) as { value: unknown } | null
    if (entry === null || typeof entry !== "object" || !("value" in entry)) return { kind: "unreadable", problem: "not a cache entry" }
    return { kind: "hit", value: entry.value }
  } catch (e) {
    return { kind: "unreadable", problem: (e as Error)?.message ?? String(e) }
  }
}

/**
 * Publishes `value` at `file` (flushed to disk) unless someone else already did; returns
 * the value that won. An unreadable entry in the way is replaced.
 */
const publish = (file: string, value: unknown): unknown => {
  Directory.make(path.dirname(file))
  const tmp = AtomicWrite.temporaryName(file)
  fs.writeFileSync(tmp, BlockFile.encode({ value }))
  try {
    AtomicWrite.publishNewSync(tmp, file)
    return value
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
    const winner = read(file)
    if (winner.kind === "hit") return winner.value
    AtomicWrite.publishSync(tmp, file)
    return value
  } finally {
    fs.rmSync(tmp, { force: true })
  }
}

/** `diskCache("name", f)(...args)`: f's result for these args, computed at most once per cache. */
export const diskCache = <Args extends ReadonlyArray<unknown>, A, E, R>(
  name: string,
  f: (...args: Args) => Effect.Effect<A, E, R>,
  options: Options = {}
) => (...args: Args): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const file = pathFor(name, args, options)
    const cached = read(file)
    if (cached.kind === "hit") return Effect.succeed(cached.value as A)
    const compute = Effect.flatMap(f(...args), (value) => Effect.sync(() => publish(file, value) as A))
    return cached.kind === "miss"
      ? compute
      : Effect.zipRight(Effect.logWarning(`diskCache(${JSON.stringify(name)}): the entry ${file} is unreadable (${cached.problem}); computing it again`), compute)
  })
