/**
 * The dashboard's front end: one HTML page, its stylesheet, its script and an icon, served
 * as separate same-origin files so the Content-Security-Policy allows no inline code at
 * all. No framework and no build step: the script draws the stage graph and the chart as
 * SVG with DOM calls, and writes every value (worker ids, counter names and error texts
 * come from users) with `textContent` or `setAttribute`, never as markup.
 *
 * The script follows `/events` (server-sent events): `graph` once (the stage graph),
 * `view` on every change (the run's state, see View.ts), and `end` when the run is over,
 * after which it keeps the final state on screen and stops listening.
 */

export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>zephyr</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/dashboard.css">
<script src="/dashboard.js" defer></script>
</head>
<body>
<header>
<h1><span class="brand">zephyr</span> <span id="title">connecting…</span></h1>
<p class="status"><span id="state" class="pill state-starting">starting</span> <span id="overall" class="overall">0%</span> <span id="summary"></span></p>
<p id="error" class="error" hidden></p>
</header>
<main>
<section class="wide">
<h2>Stages</h2>
<div id="graph" class="graph-box"><p class="empty">waiting for the plan…</p></div>
</section>
<section>
<h2>Throughput <span class="legend"><span class="key key-in"></span>records in/s <span class="key key-out"></span>records out/s</span></h2>
<div id="chart" class="chart-box"></div>
</section>
<section>
<h2>Counters</h2>
<table><thead><tr><th>stage</th><th>counter</th><th class="num">value</th></tr></thead><tbody id="counters"></tbody></table>
</section>
<section class="wide">
<h2>Workers</h2>
<table><thead><tr><th>worker</th><th>state</th><th>shards</th><th class="num">for</th><th class="num">last heartbeat</th><th class="num">tasks done</th><th class="num">deaths</th></tr></thead><tbody id="workers"></tbody></table>
</section>
<section class="wide">
<h2>Retries and failures</h2>
<table><thead><tr><th>at</th><th>shard</th><th>worker</th><th>kind</th><th>where</th><th>error</th></tr></thead><tbody id="failures"></tbody></table>
</section>
</main>
<footer id="live">connecting…</footer>
</body>
</html>
`

export const css = `:root{--fg:#1f2933;--muted:#6b7280;--line:#d8dee6;--bg:#f6f8fa;--card:#fff;--run:#2563eb;--done:#15803d;--fail:#b91c1c;--wait:#9ca3af;--in:#2563eb;--out:#d97706}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
header{padding:14px 24px 10px;background:var(--card);border-bottom:1px solid var(--line)}
h1{margin:0;font-size:20px;font-weight:600}
.brand{color:var(--run)}
#title{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:15px;font-weight:500;color:var(--muted)}
.status{margin:6px 0 0;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.overall{font-weight:700;font-size:18px;font-variant-numeric:tabular-nums}
.error{margin:8px 0 0;padding:8px 10px;border-left:4px solid var(--fail);background:#fef2f2;white-space:pre-wrap;font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
main{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:16px;padding:16px 24px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0}
section.wide{grid-column:1 / -1}
h2{margin:0 0 8px;font-size:15px;font-weight:600;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.legend{font-size:12px;font-weight:400;color:var(--muted);display:flex;gap:6px;align-items:center}
.key{display:inline-block;width:14px;height:3px;margin-left:6px}
.key-in{background:var(--in)}.key-out{background:var(--out)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 10px 4px 0;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:500}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.mono,td.message{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
td.message{white-space:pre-wrap;word-break:break-word;max-width:60ch}
tr.builtin td{color:var(--muted)}
.empty{color:var(--muted);margin:4px 0}
.pill{display:inline-block;white-space:nowrap;padding:1px 9px;border-radius:10px;font-size:12px;font-weight:600;color:#fff;background:var(--wait)}
.state-running,.state-busy{background:var(--run)}
.state-succeeded,.state-done,.state-idle,.state-ready,.state-skipped{background:var(--done)}
.state-failed,.state-dead,.state-user-error,.state-out-of-memory,.state-fatal{background:var(--fail)}
.state-infrastructure,.state-worker-lost{background:var(--out)}
.state-released,.state-starting,.state-pending,.state-interrupted,.state-stopped{background:var(--wait)}
.graph-box,.chart-box{overflow-x:auto}
svg text{fill:var(--fg);font:12px ui-monospace,"DejaVu Sans Mono",monospace}
svg .title{font:600 13px system-ui,"DejaVu Sans",sans-serif}
svg .muted{fill:var(--muted)}
svg .edge{fill:none;stroke:#94a3b8;stroke-width:1.5}
svg .edge-label{fill:var(--muted);font-size:11px}
svg .arrow{fill:#94a3b8}
svg .box{fill:#fff;stroke:var(--line);stroke-width:1.5}
svg .stage-running .box{stroke:var(--run)}
svg .stage-done .box,svg .stage-skipped .box{stroke:var(--done)}
svg .stage-failed .box{stroke:var(--fail)}
svg .bar-bg{fill:#e5e7eb}
svg .bar{fill:var(--wait)}
svg .stage-running .bar{fill:var(--run)}
svg .stage-done .bar,svg .stage-skipped .bar{fill:var(--done)}
svg .stage-failed .bar{fill:var(--fail)}
svg .axis{stroke:var(--line);stroke-width:1}
svg .line-in{fill:none;stroke:var(--in);stroke-width:2}
svg .line-out{fill:none;stroke:var(--out);stroke-width:2}
footer{padding:0 24px 16px;color:var(--muted);font-size:12px}
`

export const favicon = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2563eb"/><path d="M4 4h8L4 12h8" stroke="#fff" stroke-width="2" fill="none"/></svg>
`

// Every value goes through textContent or setAttribute: data is never parsed as markup.
export const script = `"use strict"
const SVG = "http://www.w3.org/2000/svg"
const byId = (id) => document.getElementById(id)
const make = (ns, tag, attrs, text) => {
  const e = ns ? document.createElementNS(ns, tag) : document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v))
  if (text !== undefined) e.textContent = String(text)
  return e
}
const h = (tag, attrs, text) => make(null, tag, attrs, text)
const s = (tag, attrs, text) => make(SVG, tag, attrs, text)
const int = (n) => Math.round(n).toLocaleString("en-US")
const rate = (n) => (n >= 100 ? int(n) : n >= 10 ? n.toFixed(1) : n.toFixed(2))
const age = (ms) => (ms < 1000 ? Math.round(ms) + " ms" : ms < 120000 ? (ms / 1000).toFixed(1) + " s" : duration(ms))
const duration = (ms) => {
  const t = Math.round(ms / 1000), hh = Math.floor(t / 3600), mm = Math.floor((t % 3600) / 60), ss = t % 60
  return (hh ? hh + " h " : "") + (hh || mm ? mm + " min " : "") + ss + " s"
}
const plural = (n, word) => int(n) + " " + word + (n === 1 ? "" : "s")
const retries = (n) => int(n) + (n === 1 ? " retry" : " retries")
const finished = (st) => st.state === "done" || st.state === "skipped"
const percent = (st) => (finished(st) ? 100 : st.total ? Math.floor((100 * st.done) / st.total) : 0)
const clip = (text, chars) => (text.length <= chars ? text : text.slice(0, Math.max(1, chars - 1)) + "\\u2026")

// ---- the stage graph: one box per stage, laid out in columns by depth, edges as curves ----
const W = 420, LINE = 17, HEAD = 34, FOOT = 48, GAPX = 84, GAPY = 22, PAD = 10, CHAR = 7.3
const boxes = new Map()
let graph = null
let view = null

function drawGraph(g) {
  boxes.clear()
  const root = s("svg", { class: "graph", role: "img", "aria-label": "stage graph" })
  const defs = s("defs")
  const marker = s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, orient: "auto-start-reverse" })
  marker.append(s("path", { d: "M0 0L10 5L0 10z", class: "arrow" }))
  defs.append(marker)
  root.append(defs)
  const place = new Map()
  const columnY = []
  for (const st of g.stages) {
    const height = HEAD + st.lines.length * LINE + FOOT
    const x = PAD + st.column * (W + GAPX)
    const y = columnY[st.column] ?? PAD
    columnY[st.column] = y + height + GAPY
    place.set(st.id, { x, y, height })
  }
  for (const e of g.edges) {
    const a = place.get(e.from), b = place.get(e.to)
    if (!a || !b) continue
    const x1 = a.x + W, y1 = a.y + a.height / 2, x2 = b.x - 2, y2 = b.y + b.height / 2, mx = (x1 + x2) / 2
    root.append(s("path", { class: "edge", d: "M" + x1 + " " + y1 + "C" + mx + " " + y1 + " " + mx + " " + y2 + " " + x2 + " " + y2, "marker-end": "url(#arrow)" }))
    if (e.label) root.append(s("text", { class: "edge-label", x: mx, y: (y1 + y2) / 2 - 6, "text-anchor": "middle" }, e.label))
  }
  for (const st of g.stages) {
    const p = place.get(st.id)
    const group = s("g", { class: "stage stage-pending", "data-stage": st.id, "data-state": "pending" })
    group.append(s("rect", { class: "box", x: p.x, y: p.y, width: W, height: p.height, rx: 6 }))
    group.append(s("text", { class: "title", x: p.x + 10, y: p.y + 21 }, "stage " + st.id + " \\u00b7 " + st.kind))
    group.append(s("text", { class: "muted", x: p.x + W - 10, y: p.y + 21, "text-anchor": "end" }, st.shards))
    st.lines.forEach((line, i) => {
      const y = p.y + HEAD + 12 + i * LINE
      // The box names the file only (ops mostly share one module); the tooltip has the path.
      const where = line.where ? line.where.split("/").pop() : ""
      const room = Math.floor((W - 20 - 44 - where.length * CHAR - 10) / CHAR)
      group.append(s("text", { class: "muted", x: p.x + 10, y }, line.head))
      const text = s("text", { x: p.x + 54, y }, clip(line.text, room))
      text.append(s("title", {}, line.text + (line.where ? "  " + line.where : "")))
      group.append(text)
      if (where) group.append(s("text", { class: "muted", x: p.x + W - 10, y, "text-anchor": "end" }, where))
    })
    const by = p.y + p.height - FOOT + 10
    group.append(s("rect", { class: "bar-bg", x: p.x + 10, y: by, width: W - 20, height: 10, rx: 3 }))
    const bar = s("rect", { class: "bar", x: p.x + 10, y: by, width: 0, height: 10, rx: 3 })
    group.append(bar)
    const progress = s("text", { class: "progress", x: p.x + 10, y: by + 26 }, "pending")
    const records = s("text", { class: "muted", x: p.x + W - 10, y: by + 26, "text-anchor": "end" }, "")
    group.append(progress, records)
    const ends = s("title", {}, "ends with " + st.ends)
    group.append(ends)
    root.append(group)
    boxes.set(st.id, { group, bar, progress, records })
  }
  const width = PAD * 2 + (columnY.length - 1) * (W + GAPX) + W
  const height = Math.max(...columnY) - GAPY + PAD
  root.setAttribute("width", width)
  root.setAttribute("height", height)
  root.setAttribute("viewBox", "0 0 " + width + " " + height)
  byId("graph").replaceChildren(root)
}

function drawStages(v) {
  for (const st of v.stages) {
    const box = boxes.get(st.id)
    if (!box) continue
    const pct = percent(st)
    box.group.setAttribute("class", "stage stage-" + st.state)
    box.group.setAttribute("data-state", st.state)
    box.bar.setAttribute("width", ((W - 20) * pct) / 100)
    const shards = st.total === null ? int(st.done) + " shards" : int(st.done) + "/" + int(st.total) + " shards"
    const parts = [st.state === "pending" ? "pending" : st.state === "skipped" ? "skipped: " + (st.skipped || "not run here") : shards + " \\u00b7 " + pct + "%"]
    if (st.inFlight) parts.push(st.inFlight + " running")
    if (st.retries) parts.push(retries(st.retries))
    box.progress.textContent = parts.join(" \\u00b7 ")
    box.records.textContent = st.recordsIn || st.recordsOut ? "in " + int(st.recordsIn) + " \\u00b7 out " + int(st.recordsOut) : ""
  }
}

// ---- throughput: records in and out per second, as two polylines ----
function drawChart(points, elapsedMs) {
  const root = byId("chart")
  if (points.length < 1) { root.replaceChildren(h("p", { class: "empty" }, "no records counted yet")); return }
  const CW = 560, CH = 180, L = 64, R = 12, T = 10, B = 26
  const top = Math.max(1, ...points.map((p) => Math.max(p.inPerSec, p.outPerSec)))
  const t0 = Math.min(...points.map((p) => p.atMs)) - 1000, t1 = Math.max(t0 + 1000, elapsedMs)
  const x = (t) => L + ((t - t0) / (t1 - t0)) * (CW - L - R)
  const y = (v) => T + (1 - v / top) * (CH - T - B)
  const chart = s("svg", { width: CW, height: CH, viewBox: "0 0 " + CW + " " + CH, role: "img", "aria-label": "records per second" })
  chart.append(s("line", { class: "axis", x1: L, y1: T, x2: L, y2: CH - B }), s("line", { class: "axis", x1: L, y1: CH - B, x2: CW - R, y2: CH - B }))
  chart.append(s("text", { x: L - 6, y: T + 9, "text-anchor": "end" }, rate(top) + "/s"), s("text", { x: L - 6, y: CH - B, "text-anchor": "end" }, "0"))
  chart.append(s("text", { class: "muted", x: L, y: CH - 6 }, duration(Math.max(0, t0))), s("text", { class: "muted", x: CW - R, y: CH - 6, "text-anchor": "end" }, duration(t1)))
  for (const [key, cls] of [["inPerSec", "line-in"], ["outPerSec", "line-out"]]) {
    const coords = [[x(t0), y(0)]]
    for (const p of points) coords.push([x(p.atMs), y(p[key])])
    chart.append(s("polyline", { class: cls, points: coords.map((c) => c[0].toFixed(1) + "," + c[1].toFixed(1)).join(" ") }))
  }
  const last = points[points.length - 1]
  chart.append(s("text", { class: "muted", x: (L + CW - R) / 2, y: CH - 6, "text-anchor": "middle" }, "last: " + rate(last.inPerSec) + " in/s, " + rate(last.outPerSec) + " out/s"))
  root.replaceChildren(chart)
}

// ---- tables ----
const cells = (values) => {
  const tr = h("tr")
  for (const v of values) tr.append(v instanceof Node ? v : h("td", {}, v))
  return tr
}
const td = (cls, text) => h("td", { class: cls }, text)
const pill = (state) => { const c = h("td"); c.append(h("span", { class: "pill state-" + state }, state)); return c }
const none = (columns, text) => { const tr = h("tr"); tr.append(h("td", { class: "empty", colspan: columns }, text)); return tr }

function drawTables(v) {
  byId("workers").replaceChildren(...(v.workers.length ? v.workers.map((w) => cells([td("mono", w.id), pill(w.state), td("mono", w.shards.length ? w.shards.join(", ") + (w.inFlight > w.shards.length ? ", \\u2026" : "") : "\\u2014"), td("num", age(w.stateAgeMs)), td("num", w.heartbeatAgeMs === null ? "never" : w.state === "released" ? "\\u2014" : age(w.heartbeatAgeMs) + " ago"), td("num", int(w.tasksDone)), td("num", int(w.deaths))])) : [none(7, "no worker started yet")]))
  const failures = v.failures.slice().reverse()
  const which = (f) => (f.stage === null ? "the run" : "stage " + f.stage + (f.shard === null ? "" : " shard " + f.shard) + (f.attempt === null ? "" : " attempt " + f.attempt)) + (f.run ? " (run " + (f.run + 1) + ")" : "")
  byId("failures").replaceChildren(...(failures.length ? failures.map((f) => cells([td("num", duration(f.atMs)), td("mono", which(f)), td("mono", f.worker || "\\u2014"), pill(f.kind), td("mono", f.where || "\\u2014"), td("message", f.message)])) : [none(6, "no retries or failures")]))
  const counters = v.counters.slice().sort((a, b) => Number(a.builtIn) - Number(b.builtIn) || a.stage - b.stage || (a.name < b.name ? -1 : 1))
  byId("counters").replaceChildren(...(counters.length ? counters.map((c) => {
    const tr = cells([td("num", c.stage), td("mono", c.name), td("num", int(c.value))])
    if (c.builtIn) tr.setAttribute("class", "builtin")
    return tr
  }) : [none(3, "no counters yet")]))
}

function drawHeader(v) {
  byId("title").textContent = v.executionId || "starting"
  document.title = "zephyr \\u00b7 " + v.state + (v.executionId ? " \\u00b7 " + v.executionId : "")
  const state = byId("state")
  state.textContent = v.state
  state.setAttribute("class", "pill state-" + v.state)
  let done = 0, total = 0
  for (const st of v.stages) { const t = st.total ?? (finished(st) ? 1 : 0); total += t; done += finished(st) ? t : Math.min(st.done, t) }
  byId("overall").textContent = (v.state === "succeeded" ? 100 : total ? Math.floor((100 * done) / total) : 0) + "%"
  const running = v.stages.find((st) => st.state === "running")
  const parts = []
  if (running) parts.push("stage " + running.id + " (" + (v.stages.indexOf(running) + 1) + " of " + v.stages.length + "): " + int(running.done) + "/" + (running.total === null ? "?" : int(running.total)) + " shards, " + running.inFlight + " in flight, " + running.queued + " queued")
  else parts.push(v.stages.filter(finished).length + " of " + plural(v.stages.length, "stage") + " done")
  const states = ["starting", "ready", "busy", "idle", "dead", "released"].map((state) => [state, v.workerCounts[state]]).filter(([, n]) => n > 0)
  parts.push(states.length ? "workers: " + states.map(([state, n]) => n + " " + state).join(", ") : "no workers yet")
  if (v.retries) parts.push(retries(v.retries))
  if (v.attempt) parts.push("pipeline attempt " + (v.attempt + 1))
  parts.push(duration(v.elapsedMs))
  byId("summary").textContent = parts.join(" \\u00b7 ")
  const error = byId("error")
  error.hidden = !v.error
  error.textContent = v.error || ""
}

function render() {
  if (!view) return
  drawHeader(view)
  if (graph) drawStages(view)
  drawChart(view.throughput, view.elapsedMs)
  drawTables(view)
}

const events = new EventSource("/events")
events.addEventListener("graph", (e) => { graph = JSON.parse(e.data); drawGraph(graph); render() })
events.addEventListener("view", (e) => { view = JSON.parse(e.data); render(); byId("live").textContent = "live \\u00b7 updated " + new Date().toLocaleTimeString() })
events.addEventListener("end", () => { events.close(); byId("live").textContent = "the run has ended; this is its final state" })
events.addEventListener("error", () => { if (events.readyState !== EventSource.CLOSED) byId("live").textContent = "connection lost; retrying\\u2026" })
`
