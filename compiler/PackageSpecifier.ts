/** The package a bare specifier names: `effect` for `effect/Schema`, `@effect/rpc` for `@effect/rpc/RpcClient`. */
export const packageName = (specifier: string): string =>
  specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/")
