/**
 * Counts, sizes, rates and durations as people read them in progress lines and summaries:
 * three significant digits, SI prefixes (1 kB = 1000 B, as `ls -h --si` and `du --si`),
 * no colour, no locale.
 */

const prefixes = ["", "k", "M", "G", "T", "P"]

const scaled = (n: number, unit: string, space: string): string => {
  if (!Number.isFinite(n)) return `? ${unit}`.trim()
  let i = 0
  let v = Math.abs(n)
  while (v >= 999.5 && i < prefixes.length - 1) { v /= 1000; i++ }
  const digits = i === 0 || v >= 99.95 ? 0 : v >= 9.995 ? 1 : 2
  const text = `${n < 0 ? "-" : ""}${v.toFixed(digits)}`
  return `${text}${space}${prefixes[i]}${unit}`
}

/** 1234 → "1.23k", 999 → "999". */
export const count = (n: number): string => scaled(n, "", "")

/** 1234567 → "1.23 MB". */
export const bytes = (n: number): string => scaled(n, "B", " ")

/** Per second, from an amount over `ms` milliseconds: "1.23k/s"; "-" before any time passed. */
export const rate = (amount: number, ms: number, format: (n: number) => string = count): string =>
  ms <= 0 ? "-" : `${format((amount * 1000) / ms)}/s`

/** 950 → "950ms", 2345 → "2.3s", 65000 → "1m05s", 3725000 → "1h02m". */
export const duration = (ms: number): string => {
  if (!Number.isFinite(ms) || ms < 0) return "-"
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)}s`
  const s = Math.round(ms / 1000)
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  const m = Math.round(s / 60)
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`
}
