import { describe, expect, it } from "vitest"
import { ZephyrWorkerError } from "../../../plan/Errors.ts"
import { codecOf, formatOf } from "../../../runtime/formats/FileType.ts"

describe("FileType", () => {
  it("picks the format by extension for auto, any case, under a codec", () => {
    expect(formatOf("a/b.jsonl", "auto")).toBe("jsonl")
    expect(formatOf("a/b.json", "auto")).toBe("jsonl")
    expect(formatOf("a/b.NDJSON.gz", "auto")).toBe("jsonl")
    expect(formatOf("a/b.jsonl.zstd", "auto")).toBe("jsonl")
    expect(formatOf("a/b.jsonl.gzip", "auto")).toBe("jsonl")
    expect(formatOf("a/b.csv.zst", "auto")).toBe("csv")
    expect(formatOf("a/b.txt.gz", "auto")).toBe("text")
    expect(formatOf("a/b.parquet", "auto")).toBe("parquet")
  })

  it("keeps an explicit format whatever the extension", () => {
    expect(formatOf("a/b.log", "text")).toBe("text")
    expect(formatOf("a/b.data.gz", "jsonl")).toBe("jsonl")
  })

  it("names the codec by the last extension", () => {
    expect(codecOf("x.jsonl")).toBe("none")
    expect(codecOf("x.jsonl.gz")).toBe("gzip")
    expect(codecOf("x.jsonl.GZIP")).toBe("gzip")
    expect(codecOf("x.jsonl.zst")).toBe("zstd")
    expect(codecOf("x.jsonl.zstd")).toBe("zstd")
  })

  it("rejects unknown extensions with an Unsupported error naming the file", () => {
    let error: unknown
    try { formatOf("data/a.xml", "auto") } catch (e) { error = e }
    expect(error).toBeInstanceOf(ZephyrWorkerError)
    expect((error as ZephyrWorkerError).message).toBe(
      `Unsupported file extension ".xml" for data/a.xml: loadFile reads .jsonl, .json, .ndjson, .parquet, .csv, .txt (optionally .gz or .zst)`
    )
    expect((error as ZephyrWorkerError).file).toBe("data/a.xml")
    expect(() => formatOf("data/README", "auto")).toThrow(/Unsupported file extension "" for data\/README/)
    expect(() => formatOf("data/a.xml.gz", "auto")).toThrow(/Unsupported file extension ".xml.gz"/)
    expect(() => formatOf("data/a.parquet.gz", "auto")).toThrow(/Unsupported/)
  })
})
