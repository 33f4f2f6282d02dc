// Word count with Apache Beam's TypeScript SDK on its direct runner, as a Beam user would
// write it: the files are listed up front and read inside the pipeline (the SDK's
// ReadFromText is a Python cross-language transform, which the direct runner cannot run).
//   node bench/baselines/beam-wordcount.mjs --beam <prefix with node_modules/apache-beam> --out DIR FILE...
// Writes DIR/counts.jsonl: {"word":...,"count":...} per distinct word.
import * as fs from "node:fs"
import * as path from "node:path"
import { createRequire } from "node:module"

const argv = process.argv.slice(2)
const flag = (name) => { const i = argv.indexOf(`--${name}`); const v = argv[i + 1]; argv.splice(i, 2); return v }
const prefix = flag("beam")
const out = flag("out")
const files = argv

const require = createRequire(path.join(path.resolve(prefix), "package.json"))
const beam = require("apache-beam")
const { countPerElement } = require("apache-beam/transforms/group_and_combine")
const { directRunner } = require("apache-beam/runners/direct_runner")

// Beam names each step after its function and serializes the functions (without their
// free variables, which its TypeScript transform would record): they use only globals.
function* readLines(file) { yield* process.getBuiltinModule("node:fs").readFileSync(file, "utf8").split("\n") }
function splitWords(line) { return line.toLowerCase().match(/[a-z0-9']+/g) ?? [] }
// the direct runner runs the functions in this process
globalThis.wordCounts = []
function collect(kv) { globalThis.wordCounts.push(JSON.stringify({ word: kv.element, count: kv.count })) }
const counts = globalThis.wordCounts

await directRunner().run((root) =>
  root.apply(beam.create(files)).flatMap(readLines).flatMap(splitWords).apply(countPerElement()).map(collect)
)
fs.mkdirSync(out, { recursive: true })
fs.writeFileSync(path.join(out, "counts.jsonl"), counts.join("\n") + "\n")
