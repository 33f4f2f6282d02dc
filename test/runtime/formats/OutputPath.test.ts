import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { format } from "../../../runtime/formats/OutputPath.ts"

describe("OutputPath.format", () => {
  it("fills {shard}, {total}, padded {shard:05d} and {basename}", () => {
    expect(format("out/counts-{shard:05d}-of-{total}.jsonl", 3, 12)).toBe("out/counts-00003-of-12.jsonl")
    expect(format("out/{shard}.jsonl", 7, 8)).toBe("out/7.jsonl")
    expect(format("out/{shard:3d}|{total:04d}", 7, 8)).toBe("out/  7|0008")
    expect(format("out/{basename}.parquet", 2, 4)).toBe("out/shard_2.parquet")
    expect(format("out/{shard:d}.txt", 123456, 200000)).toBe("out/123456.txt")
  })

  it("collapses runs of slashes but keeps scheme://", () => {
    expect(format("out//a///{shard}.jsonl", 0, 2)).toBe("out/a/0.jsonl")
    expect(format("s3://bucket//x/{shard}.jsonl", 1, 2)).toBe("s3://bucket/x/1.jsonl")
    expect(format("/abs//x.jsonl", 0, 1)).toBe("/abs/x.jsonl")
  })

  it("allows a pattern without {shard} for a single shard", () => {
    expect(format("out/all.jsonl", 0, 1)).toBe("out/all.jsonl")
  })

  it("rejects several shards without a {shard} placeholder", () => {
    let error: unknown
    try { format("out/x.jsonl", 0, 4) } catch (e) { error = e }
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect((error as Error).message).toContain("Output pattern must")
    expect((error as Error).message).toContain("out/x.jsonl")
  })

  it("calls a function pattern", () => {
    expect(format((s, t) => `out/${s}-${t}.jsonl`, 1, 3)).toBe("out/1-3.jsonl")
    expect(() => format(() => "" as string, 0, 1)).toThrow(ZephyrWorkerError)
  })

  it("rejects a format spec it cannot honour", () => {
    expect(() => format("out/{shard:x}.jsonl", 0, 2)).toThrow(/Unsupported format spec/)
  })
})
