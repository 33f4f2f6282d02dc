/**
 * `--arg shards=N` sets `numOutputShards`; without it the pipelines use the default, as
 * users do. The bench passes it only under `--explicit-shards`, for engines on which the
 * default fails on worker processes (issue 8's fingerprint bug).
 */
export const fromArgs = (args: Readonly<Record<string, string>>): { readonly numOutputShards?: number } =>
  args.shards === undefined ? {} : { numOutputShards: Number(args.shards) }
