/**
 * Tokenise documents with a BPE tokenizer (cl100k, shipped inside the gpt-tokenizer npm
 * package). The tokenizer is a service, built once per worker by the module's `layer`
 * export and reused for every task; the pipeline only declares that it needs it.
 *
 *   npx zephyr run examples/tokenize.ts --workers 2 --print-results
 */
import { Context, Effect, Layer } from "effect"
import { Counters, Dataset } from "zephyr"

export class Tokenizer extends Context.Tag("Tokenizer")<Tokenizer, { readonly encode: (text: string) => ReadonlyArray<number> }>() {}

// How many tokenizers this process built: reported so a run can show it is one per worker.
let built = 0

export const layer = Layer.effect(
  Tokenizer,
  Effect.promise(async () => {
    const { encode } = await import("gpt-tokenizer/encoding/cl100k_base")
    built++
    return { encode: (text: string) => encode(text) }
  })
)

export interface Doc {
  readonly id: string
  readonly lang: string
  readonly text: string
}

const countTokens = (doc: Doc) =>
  Effect.map(Tokenizer, (tokenizer) => {
    const tokens = tokenizer.encode(doc.text).length
    Counters.increment("tokens", tokens)
    Counters.update("tokenizers_built_per_worker", built, "max")
    return { id: doc.id, lang: doc.lang, tokens }
  })

export default (args: Record<string, string>) => {
  const docs = Dataset.readJsonl(args.input ?? "examples/data/docs/*.jsonl").map((row) => row as Doc)
  const counted = docs.mapEffect(countTokens, { concurrency: 4 })
  return args.out ? counted.writeJsonl(`${args.out}/tokens-{shard:03d}.jsonl`) : counted
}
