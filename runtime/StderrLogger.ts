import { Cause, Effect, HashMap, Logger, LogLevel } from "effect"

/** Logs go to stderr (stdout is for results), one line each: `zephyr LEVEL message`. */
export const stderrLogger = Logger.make(({ logLevel, message, cause, annotations }) => {
  const text = (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")
  const extra = HashMap.size(annotations) > 0 ? ` ${JSON.stringify(Object.fromEntries(HashMap.toEntries(annotations)))}` : ""
  const failure = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  process.stderr.write(`zephyr ${logLevel.label.padEnd(5)} ${text}${extra}${failure}\n`)
})

/** Runs an effect with the stderr logger at `level`. */
export const withStderr = (level: LogLevel.LogLevel) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Logger.withMinimumLogLevel(level), Effect.provide(Logger.replace(Logger.defaultLogger, stderrLogger)))

/** `ZEPHYR_LOG_LEVEL=debug` (or info, warning, error) overrides the default level. */
export const levelFromEnv = (fallback: LogLevel.LogLevel): LogLevel.LogLevel => {
  const name = process.env.ZEPHYR_LOG_LEVEL
  if (!name) return fallback
  return LogLevel.allLevels.find((l) => l.label.toLowerCase() === name.toLowerCase()) ?? fallback
}
