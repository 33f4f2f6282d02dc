import { describe, expect, it } from "vitest"
import * as S3Options from "../../../runtime/storage/S3Options.ts"

describe("S3Options.resolve", () => {
  it("takes explicit options first, then AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_REGION, AWS_DEFAULT_REGION", () => {
    const env = { AWS_ENDPOINT_URL: "http://env:9000", AWS_ENDPOINT_URL_S3: "http://s3env:9000", AWS_REGION: "eu-west-1", AWS_DEFAULT_REGION: "us-west-2" }
    expect(S3Options.resolve({ endpoint: "http://flag:9000", region: "ap-south-1" }, env)).toMatchObject({ endpoint: "http://flag:9000", region: "ap-south-1", endpointFrom: S3Options.ENDPOINT_OPTION, regionFrom: S3Options.REGION_OPTION })
    expect(S3Options.resolve({}, env)).toMatchObject({ endpoint: "http://s3env:9000", region: "eu-west-1", endpointFrom: "$AWS_ENDPOINT_URL_S3", regionFrom: "$AWS_REGION" })
    expect(S3Options.resolve({}, { AWS_ENDPOINT_URL: "http://env:9000", AWS_DEFAULT_REGION: "us-west-2" })).toMatchObject({ endpoint: "http://env:9000", region: "us-west-2", endpointFrom: "$AWS_ENDPOINT_URL" })
    expect(S3Options.resolve({}, {})).toMatchObject({ endpoint: undefined, region: "us-east-1", forcePathStyle: false })
  })

  it("turns path-style requests on with a custom endpoint, unless told otherwise", () => {
    expect(S3Options.resolve({ endpoint: "http://127.0.0.1:9000" }, {}).forcePathStyle).toBe(true)
    expect(S3Options.resolve({ endpoint: "https://s3.example.com", forcePathStyle: false }, {}).forcePathStyle).toBe(false)
    expect(S3Options.resolve({ forcePathStyle: true }, {}).forcePathStyle).toBe(true)
  })

  it("refuses an endpoint that is not an http(s) URL, or that carries credentials, naming the option and never the secret", () => {
    expect(() => S3Options.resolve({ endpoint: "localhost:9000" }, {})).toThrow(/Invalid option --s3-endpoint \/ option s3Endpoint: .*http:\/\/ or https:\/\//)
    expect(() => S3Options.resolve({}, { AWS_ENDPOINT_URL: "not a url" })).toThrow(/Invalid option \$AWS_ENDPOINT_URL/)
    let message = ""
    try {
      S3Options.resolve({ endpoint: "http://AKIA:sekrit@127.0.0.1:9000" }, {})
    } catch (e) {
      message = (e as Error).message
    }
    expect(message).toMatch(/must not carry a user name or password/)
    expect(message).not.toContain("sekrit")
  })

  it("hands workers the settings only, and names the driver as their origin", () => {
    const shared = S3Options.share(S3Options.resolve({ endpoint: "http://127.0.0.1:9000" }, { AWS_REGION: "eu-west-1", AWS_SECRET_ACCESS_KEY: "sekrit" }))
    expect(shared).toEqual({ endpoint: "http://127.0.0.1:9000", region: "eu-west-1", forcePathStyle: true })
    expect(JSON.stringify(shared)).not.toContain("sekrit")
    expect(S3Options.endpointAdvice(S3Options.fromDriver(shared))).toBe("workers use the driver's, set there by --s3-endpoint / option s3Endpoint or $AWS_ENDPOINT_URL")
    expect(S3Options.endpointAdvice(S3Options.resolve({}, {}))).toMatch(/^none is set, so requests go to AWS S3/)
  })
})
