import * as fs from "node:fs"
import * as path from "node:path"
import { randomUUID } from "node:crypto"
import { Effect } from "effect"
import * as Digest from "../compiler/plan/Digest.ts"
import * as BlockFile from "./storage/BlockFile.ts"

/**
 * Runs an Effect once per argument fingerprint and keeps its result on disk, reused across
 * runs and processes. The result is written under a temporary name and published with an
 * exclusive hard link: when workers race, the first to publish wins and the others read
 * its result, so everyone agrees on one value.
 */
export interface Options {
  /** Default: $ZEPHYR_CACHE_DIR, else .zephyr/cache under the working directory. */
  readonly dir?: string | undefined
}

export const defaultDir = (): string => process.env.ZEPHYR_CACHE_DIR ?? path.join(process.cwd(), ".zephyr", "cache")

export const pathFor = (name: string, args: ReadonlyArray<unknown>, options: Options = {}): string =>
  path.join(options.dir ?? defaultDir(), `${name.replace(/[^\w.-]/g, "_")}-${Digest.digest([name, args], 24)}.msgpack`)

const read = (file: string): { readonly hit: true; readonly value: unknown } | { readonly hit: false } => {
  try {
    return { hit: true, value: (BlockFile.decode(fs.readFileSync(file)) as { value: unknown }).value }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { hit: false }
    throw e
  }
}

/** Publishes `value` at `file` unless someone else already did; returns the value that won. */
const publish = (file: string, value: unknown): unknown => {
  fs.mkdirSync(path.dirname(file), { recursive: true })
  const tmp = `${file}.tmp-${randomUUID().slice(0, 8)}`
  fs.writeFileSync(tmp, BlockFile.encode({ value }))
  try {
    fs.linkSync(tmp, file)
    return value
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
    const winner = read(file)
    return winner.hit ? winner.value : value
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
    if (cached.hit) return Effect.succeed(cached.value as A)
    return Effect.flatMap(f(...args), (value) => Effect.sync(() => publish(file, value) as A))
  })
