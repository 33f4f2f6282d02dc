/**
 * Whether a stream may take ANSI codes (colours, cursor moves): only a terminal, not a
 * dumb one, and not under NO_COLOR (set and not empty, https://no-color.org). Zephyr's own
 * output never needs them; the CLI's help has colours, and the live progress moves the
 * cursor, only when this says so.
 */
export const allowed = (stream: { readonly isTTY?: boolean | undefined }, env: NodeJS.ProcessEnv = process.env): boolean =>
  stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb"
