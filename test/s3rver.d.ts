// The part of s3rver 3.7 (a local S3-compatible server for tests) that the tests call; the package ships no types.
declare module "s3rver" {
  import type { Server } from "node:http"
  interface Options {
    readonly address?: string
    readonly port?: number
    readonly directory: string
    readonly silent?: boolean
    readonly configureBuckets?: ReadonlyArray<{ readonly name: string }>
  }
  export default class S3rver {
    constructor(options: Options)
    run(): Promise<{ readonly address: string; readonly port: number }>
    close(): Promise<void>
    readonly httpServer: Server
  }
}
