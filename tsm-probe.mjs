const t0 = performance.now()
const ts = (await import("typescript")).default
const t1 = performance.now()
const options = { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, skipLibCheck: true, noEmit: true, allowImportingTsExtensions: true, types: ["node"], lib: ["lib.es2023.d.ts"] }
const program = ts.createProgram([process.argv[2]], options)
const t2 = performance.now()
const sf = program.getSourceFile(process.argv[2])
const diags = program.getSemanticDiagnostics(sf)
const t3 = performance.now()
console.log({ importMs: Math.round(t1-t0), programMs: Math.round(t2-t1), checkMs: Math.round(t3-t2), files: program.getSourceFiles().length, diags: diags.length })
const groups = {}
for (const f of program.getSourceFiles()) { const k = f.fileName.includes("node_modules/") ? f.fileName.split("node_modules/")[1].split("/").slice(0, f.fileName.split("node_modules/")[1].startsWith("@") ? 2 : 1).join("/") : "local"; groups[k] = (groups[k] ?? 0) + 1 }
console.log(groups)
