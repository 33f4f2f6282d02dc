import { Cause, Effect, HashMap, List, Logger, LogLevel } from "effect"

/**
 * Logs go to stderr (stdout is for results), one line each. As text: `zephyr LEVEL message`
 * and the annotations as JSON; as JSON (`--log-format json`, `$ZEPHYR_LOG_FORMAT=json`):
 * one object per line with `time`, `level`, `message`, the annotations (`execution`,
 * `stage`, `shard`, `attempt`, `worker`) as fields, and `cause` for a failure. The level is
 * `--log-level` (`$ZEPHYR_LOG_LEVEL`), else each command's default.
 */

export const LEVEL_ENV = "ZEPHYR_LOG_LEVEL"
export const FORMAT_ENV = "ZEPHYR_LOG_FORMAT"

export type Format = "text" | "json"
export const formats: ReadonlyArray<Format> = ["text", "json"]

/** The level names `--log-level` takes (`warn` and `off` are accepted too). */
export const levelNames: ReadonlyArray<string> = LogLevel.allLevels.map((l) => l._tag.toLowerCase())

const textOf = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")

const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v))

/**
 * Annotations that only structured logs carry: a text message names its stage, shard and
 * worker in its own words already.
 */
const contextKeys: ReadonlySet<string> = new Set(["execution", "stage", "shard", "attempt", "worker", "summary"])

export const stderrLogger = Logger.make(({ logLevel, message, cause, annotations }) => {
  const shown = HashMap.toEntries(annotations).filter(([k]) => !contextKeys.has(k))
  const extra = shown.length > 0 ? ` ${json(Object.fromEntries(shown))}` : ""
  const failure = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  process.stderr.write(`zephyr ${logLevel.label.padEnd(5)} ${textOf(message)}${extra}${failure}\n`)
})

export const jsonLogger = Logger.make(({ logLevel, message, cause, annotations, date, spans }) => {
  const entry: Record<string, unknown> = { time: date.toISOString(), level: logLevel.label, message: textOf(message) }
  for (const [k, v] of HashMap.toEntries(annotations)) if (!(k in entry)) entry[k] = v
  for (const span of List.toArray(spans)) entry[`span.${span.label}`] = date.getTime() - span.startTime
  if (!Cause.isEmpty(cause)) entry.cause = Cause.pretty(cause)
  process.stderr.write(`${json(entry)}\n`)
})

/** `$ZEPHYR_LOG_FORMAT`: "json", else text. */
export const formatFromEnv = (): Format => (process.env[FORMAT_ENV]?.toLowerCase() === "json" ? "json" : "text")

/** Runs an effect with the stderr logger (in the format of `formatFromEnv`) at `level`. */
export const withStderr = (level: LogLevel.LogLevel) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(
    Logger.withMinimumLogLevel(level),
    Effect.provide(Logger.replace(Logger.defaultLogger, formatFromEnv() === "json" ? jsonLogger : stderrLogger))
  )

/** A level by its name (any case): debug, info, warning, error... */
export const levelNamed = (name: string): LogLevel.LogLevel | undefined =>
  LogLevel.allLevels.find((l) => l._tag.toLowerCase() === name.toLowerCase() || l.label.toLowerCase() === name.toLowerCase())

/** `ZEPHYR_LOG_LEVEL=debug` (or info, warning, error; `--log-level` sets it) overrides the default level. */
export const levelFromEnv = (fallback: LogLevel.LogLevel): LogLevel.LogLevel => {
  const name = process.env[LEVEL_ENV]
  if (!name) return fallback
  return levelNamed(name) ?? fallback
}

/**
 * A line a worker process wrote on its stderr, as the driver passes it on: after the
 * worker's id in text, and in JSON as the worker's own log object (it logs JSON too) or,
 * for anything else it printed, an object naming the worker.
 */
export const workerLine = (workerId: string, line: string): string => {
  if (formatFromEnv() !== "json") return `[${workerId}] ${line}\n`
  if (line.startsWith("{")) {
    try {
      const parsed: unknown = JSON.parse(line)
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) return `${json({ worker: workerId, ...parsed })}\n`
    } catch { /* not one of its logs */ }
  }
  return `${json({ time: new Date().toISOString(), level: "INFO", message: line, worker: workerId, stream: "stderr" })}\n`
}
