import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as StoragePath from "../../../runtime/storage/StoragePath.ts"

describe("StoragePath", () => {
  it.each<[string, StoragePath.S3Location]>([
    ["s3://bucket/data/part-0.jsonl", { bucket: "bucket", key: "data/part-0.jsonl" }],
    ["s3://bucket", { bucket: "bucket", key: "" }],
    ["s3://bucket/", { bucket: "bucket", key: "" }],
    ["s3://my.bucket-1/prefix/", { bucket: "my.bucket-1", key: "prefix/" }],
    // Keys are taken as written: no percent-decoding, spaces and any other character kept.
    ["s3://b/a b/%20/x?y#z", { bucket: "b", key: "a b/%20/x?y#z" }]
  ])("parses %s", (url, expected) => {
    expect(StoragePath.parse(url)).toEqual(expected)
    expect(StoragePath.isS3(url)).toBe(true)
  })

  it.each<[string, RegExp]>([
    ["s3://", /names no bucket/],
    ["s3:///key", /names no bucket/],
    ["s3://buck*et/key", /"buck\*et" is not a bucket name/],
    ["s3://b//key", /empty path segment/],
    ["s3://b/a//key", /empty path segment/],
    ["/local/path", /does not start with s3:\/\//]
  ])("refuses %s with a ZephyrPlanError (invalid-url) naming the URL and the option", (url, problem) => {
    let error: unknown
    try {
      StoragePath.parse(url, "--chunk-dir / option chunkDir")
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ _tag: "ZephyrPlanError", reason: "invalid-url" })
    expect((error as Error).message).toContain(JSON.stringify(url))
    expect((error as Error).message).toContain("--chunk-dir / option chunkDir")
    expect((error as Error).message).toMatch(problem)
  })

  it("joins, splits and resolves URLs with /, and local paths as the path module does", () => {
    expect(StoragePath.join("s3://b/chunks", "exec-1", "stage-0/shard-1")).toBe("s3://b/chunks/exec-1/stage-0/shard-1")
    expect(StoragePath.join("s3://b/chunks/", "x")).toBe("s3://b/chunks/x")
    expect(StoragePath.join("s3://b", "x")).toBe("s3://b/x")
    expect(() => StoragePath.join("s3://b/chunks", "../other")).toThrow(/\.\./)
    expect(StoragePath.join("/tmp/chunks", "exec-1", "stage-0")).toBe(path.join("/tmp/chunks", "exec-1", "stage-0"))
    expect(StoragePath.dirname("s3://b/a/b/c.zrun")).toBe("s3://b/a/b")
    expect(StoragePath.dirname("s3://b/c.zrun")).toBe("s3://b")
    expect(StoragePath.dirname("s3://b/a/")).toBe("s3://b")
    expect(StoragePath.basename("s3://b/a/b/c.zrun")).toBe("c.zrun")
    expect(StoragePath.dirname("/x/y/z")).toBe("/x/y")
    expect(StoragePath.resolve("s3://b/k")).toBe("s3://b/k")
    expect(StoragePath.resolve("rel/dir")).toBe(path.resolve("rel/dir"))
  })

  it("tells what lies under a directory by whole segments, never across the URL/local divide", () => {
    expect(StoragePath.isUnder("s3://b/exec/stage-0/x", "s3://b/exec")).toBe(true)
    expect(StoragePath.isUnder("s3://b/exec", "s3://b/exec/")).toBe(true)
    expect(StoragePath.isUnder("s3://b/exec-2/x", "s3://b/exec")).toBe(false)
    expect(StoragePath.isUnder("/tmp/exec/x", "s3://b/exec")).toBe(false)
    expect(StoragePath.isUnder("/tmp/exec/x", "/tmp/exec")).toBe(true)
    expect(StoragePath.prefixOf({ bucket: "b", key: "exec" })).toBe("exec/")
    expect(StoragePath.prefixOf({ bucket: "b", key: "" })).toBe("")
  })
})
