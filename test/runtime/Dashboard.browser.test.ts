import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { chromium } from "playwright-core"
import { describe, expect, it } from "vitest"
import { useTempDirs } from "../TempDirs.ts"

/**
 * The dashboard in a real browser: a real `zephyr run` (the built bin, local worker
 * processes) of test/runtime/fixtures/dashboard-run.ts with `--dashboard=0`, followed by
 * headless Chromium (Debian's package, driven by playwright-core, which downloads no
 * browser; `.ci/run` installs it). The run waits on a gate file, so the page is looked at
 * while the first stage runs; then the gate opens and the page must reach 100%.
 */

const executablePath = process.env.ZEPHYR_CHROMIUM ?? "/usr/bin/chromium"
const installed = fs.existsSync(executablePath)
const artifacts = path.resolve("test-artifacts")
const tmp = useTempDirs("zephyr-dashboard-browser-")

const name = "the page shows the stage graph, live progress to 100%, the retry with its file:line, workers and counters, with no console error or CSP violation (screenshot in test-artifacts/dashboard.png)"

describe("dashboard in Chromium", () => {
  if (!installed) process.stderr.write(`skipping the dashboard's browser test: Chromium is not installed at ${executablePath} (apt-get install chromium, or set ZEPHYR_CHROMIUM)\n`)

  it.skipIf(!installed)(installed ? name : `${name}: skipped, Chromium is not installed at ${executablePath}`, async () => {
    const dir = tmp()
    for (let f = 0; f < 4; f++) {
      fs.writeFileSync(path.join(dir, `in-${f}.jsonl`), Array.from({ length: 250 }, (_, j) => JSON.stringify({ key: `k${j % 7}`, n: j })).join("\n") + "\n")
    }
    const gate = path.join(dir, "gate")
    const out = path.join(dir, "out")
    const driver = spawn(process.execPath, [
      "bin/zephyr.js", "run", "test/runtime/fixtures/dashboard-run.ts",
      "--arg", `input=${dir}/in-*.jsonl`, "--arg", `gate=${gate}`, "--arg", `out=${out}`,
      "--workers", "2", "--dashboard=0", "--no-progress"
    ], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ZEPHYR_DASHBOARD_TOKEN: "" } })
    let driverErr = ""
    driver.stderr!.on("data", (d) => { driverErr += d })
    const driverExit = new Promise<number | null>((resolve) => driver.on("exit", (code) => resolve(code)))
    const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] })
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const look = () => {
          // The token is made up for the run: the URL printed once on stderr carries it.
          const m = /dashboard on (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9._~-]+) /.exec(driverErr)
          if (m) resolve(m[1]!)
        }
        driver.stderr!.on("data", look)
        driver.on("exit", () => reject(new Error(`the run exited before serving its dashboard:\n${driverErr}`)))
        look()
      })
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
      page.setDefaultTimeout(150_000) // a loaded 2-core machine: waits are for conditions, never timings
      const problems: Array<string> = []
      page.on("console", (m) => { if (m.type() === "error" || /Content.Security.Policy/i.test(m.text())) problems.push(`console ${m.type()}: ${m.text()}`) })
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
      page.on("requestfailed", (r) => { if (!r.url().endsWith("/events")) problems.push(`request failed: ${r.url()}`) })
      // Runs in the page (before its own script): every CSP violation becomes a console error.
      await page.addInitScript({ content: `document.addEventListener("securitypolicyviolation", (e) => console.error("CSP violation: " + e.violatedDirective + " " + e.blockedURI))` })
      await page.goto(url)
      // The token went into a cookie and out of the address bar; the page never holds it.
      const token = new URL(url).searchParams.get("token")!
      expect(page.url()).toBe(url.slice(0, url.indexOf("?")))
      expect(await page.content()).not.toContain(token)

      // The stage graph, from the plan: two stages, op names and the fixture's file:line.
      await page.waitForSelector("#graph svg g.stage[data-stage='1']")
      expect(await page.locator("#graph g.stage").count()).toBe(2)
      const graphText = await page.locator("#graph").textContent()
      expect(graphText).toContain("mapEffect, concurrency 1")
      expect(graphText).toMatch(/o3mapShard.*dashboard-run\.ts:\d+/)
      expect(graphText).toMatch(/groupBy\(byKey\) scatter.*dashboard-run\.ts:\d+/)
      expect(await page.locator("#graph path.edge").count()).toBe(1)
      await page.waitForSelector("#graph g.stage[data-stage='0'][data-state='running']")
      expect(await page.locator("#state").textContent()).toBe("running")

      // Let the run go on, and wait for it to finish on the page.
      fs.writeFileSync(gate, "")
      await page.waitForSelector("#state.state-succeeded")
      await page.waitForFunction(`document.getElementById("live").textContent.includes("the run has ended")`)
      expect(await page.locator("#overall").textContent()).toBe("100%")
      expect(await page.locator("#graph g.stage[data-state='done']").count()).toBe(2)
      expect(await page.locator("#graph g.stage[data-stage='0'] text.progress").textContent()).toMatch(/^4\/4 shards · 100% · 1 retry$/)
      expect(await page.locator("#graph g.stage[data-stage='1'] text.progress").textContent()).toMatch(/^2\/2 shards · 100%$/)
      expect(await page.locator("#chart polyline").count()).toBe(2)

      // The retry, with its error text and file:line; the workers; the counters. Markup in a
      // counter name and an error text stays text.
      const failures = page.locator("#failures tr")
      expect(await failures.count()).toBe(1)
      const failure = await failures.first().textContent()
      expect(failure).toContain("stage 0 shard 1 attempt 0")
      expect(failure).toContain("user-error")
      expect(failure).toMatch(/dashboard-run\.ts:\d+/)
      expect(failure).toContain(`shard 1 fails once on purpose <img src=x onerror="document.title='pwned'">`)
      expect(await page.locator("#workers tr").count()).toBe(2)
      expect(await page.locator("#counters").textContent()).toContain(`rows <img src=x onerror="document.title='pwned'">1,000`)
      expect(await page.locator("img").count()).toBe(0)
      expect(await page.title()).not.toContain("pwned")

      fs.mkdirSync(artifacts, { recursive: true })
      const screenshot = path.join(artifacts, "dashboard.png")
      await page.screenshot({ path: screenshot, fullPage: true })
      process.stdout.write(`dashboard screenshot: ${screenshot}\n`)

      expect(problems).toEqual([])
      expect(await driverExit).toBe(0)
      expect(fs.readdirSync(out).sort()).toEqual(["counts-0.jsonl", "counts-1.jsonl"])
    } catch (e) {
      process.stderr.write(`driver stderr:\n${driverErr}\n`)
      throw e
    } finally {
      await browser.close()
      driver.kill("SIGKILL")
    }
  }, 400_000)
})
