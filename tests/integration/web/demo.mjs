// `strata demo`'s dashboard in a real browser (run by demo.sh). Launches
// chromium, says so in WORKDIR/browser.ready, then waits for
// WORKDIR/demo.url ("URL T0": the dashboard's address and the demo's
// start in ms since the epoch) and checks every page against the running
// demo, saving a screenshot of each into SHOTS.
//
// usage: node demo.mjs CHROMIUM WORKDIR SHOTS
//   WORKDIR/chromium.pid receives the browser's pid (demo.sh kills it if
//   this script dies before closing it).
import {createRequire} from "node:module";
import {existsSync, readFileSync, writeFileSync} from "node:fs";
import {fileURLToPath} from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../web/package.json"));
const {chromium} = require("playwright-core");

const [chromiumPath, work, shots] = process.argv.slice(2);
if (!chromiumPath || !work || !shots) {
  console.error("usage: node demo.mjs CHROMIUM WORKDIR SHOTS");
  process.exit(2);
}

const READY_MS = 10000; // the issue's bound: throughput shows within 10 s of the start
const WAIT = 30000; // ms, for everything else: generous for ASan builds
const JOB_WAIT = 120000; // ms: a recompute over the demo's data
let checks = 0;
let base = "";

function ok(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks++;
}

async function getJSON(p) {
  const res = await fetch(base + p);
  ok(res.ok, `GET ${p} answered ${res.status}`);
  return res.json();
}

async function waitFor(page, fn, arg, what, timeout) {
  try {
    await page.waitForFunction(fn, arg, {timeout: timeout || WAIT});
  } catch (e) {
    throw new Error(`${what}: not seen within ${timeout || WAIT} ms (${e.message.split("\n")[0]})`);
  }
  checks++;
}

async function shot(page, name) {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({path: file, fullPage: true});
  console.log(`demo.mjs: ${file}`);
}

// The address and start time demo.sh writes once the banner is out.
async function demoAddress() {
  const file = path.join(work, "demo.url");
  for (let i = 0; i < 1200 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 100));
  ok(existsSync(file), "demo.sh passed the dashboard's address");
  const [url, t0] = readFileSync(file, "utf8").trim().split(" ");
  return {url: url.replace(/\/$/, ""), t0: Number(t0)};
}

// A tile's figure as a number ("1,234.5" -> 1234.5; "–" -> NaN).
function tileValue(id) {
  const e = document.querySelector(`[data-tile="${id}"] .value`);
  return e ? Number(e.textContent.replace(/,/g, "")) : NaN;
}

// ---- Overview: non-zero throughput, within 10 s of the demo's start.
async function overview(page, t0) {
  await page.goto(`${base}/#/`);
  const left = t0 + READY_MS - Date.now();
  ok(left > 0, `the dashboard opened ${Date.now() - t0} ms after the start, within ${READY_MS} ms`);
  await waitFor(page, (src) => {
    // eslint-disable-next-line no-new-func
    const value = new Function(`return (${src})`)();
    return value("processed") > 0 && value("in_rate") > 0;
  }, tileValue.toString(), `non-zero throughput within ${READY_MS} ms of the demo's start`, left);
  const shown = await page.evaluate((src) => {
    // eslint-disable-next-line no-new-func
    const value = new Function(`return (${src})`)();
    return {processed: value("processed"), ingest: value("in_rate")};
  }, tileValue.toString());
  console.log(`demo.mjs: Overview showed ${shown.ingest} records/s in and ${shown.processed} records/s ` +
    `processed, ${Date.now() - t0} ms after the demo's start`);
  await waitFor(page, () => {
    const cs = [...document.querySelectorAll(".chart canvas")];
    return cs.length >= 4 && cs.every((c) => c.width > 0 && c.height > 0);
  }, null, "Overview draws its four charts");
  await waitFor(page, () => document.querySelectorAll("table.pipelines tbody tr").length === 12, null,
    "Overview lists the 12 pipelines");
  await shot(page, "overview");
}

async function topics(page) {
  await page.goto(`${base}/#/topics`);
  await waitFor(page, () => {
    const t = document.querySelector("table.topics tbody");
    return t && ["stocks", "transactions", "app_events", "web_events", "clicks", "customers_cdc"]
      .every((n) => t.textContent.includes(n));
  }, null, "Topics lists the demo's six topics");
  await shot(page, "topics");
  await page.goto(`${base}/#/topics/stocks`);
  await waitFor(page, () => document.querySelectorAll("table.records tbody tr").length > 0 &&
    document.querySelector("table.records tbody").textContent.includes('"symbol"'), null,
  "a stocks partition's records are shown");
  await shot(page, "topic-stocks");
}

async function pipelines(page) {
  await page.goto(`${base}/#/pipelines`);
  await waitFor(page, () => document.querySelectorAll("table.pipelines .state-running").length === 12, null,
    "Pipelines shows the 12 pipelines running");
  await shot(page, "pipelines");
}

// ---- The view explorer on stocks_ohlc_1m: a chart with points.
async function views(page) {
  await page.goto(`${base}/#/views/stocks_ohlc_1m`);
  await waitFor(page, () => document.querySelectorAll(".keys a[data-key]").length > 0, null,
    "the explorer lists stocks_ohlc_1m's keys");
  await waitFor(page, () => {
    const charts = [...document.querySelectorAll(".chart")];
    return charts.length > 0 && charts.every((c) => {
      const cv = c.querySelector("canvas");
      return cv && cv.width > 0 && cv.height > 0 && Number(c.dataset.points) > 0;
    });
  }, null, "every chart of stocks_ohlc_1m is a uPlot canvas whose series has points");
  const charts = await page.$$eval(".chart", (cs) => cs.map((c) => ({
    title: c.querySelector(".title").textContent, points: Number(c.dataset.points),
    uplot: c.querySelector(".uplot") !== null,
  })));
  ok(charts.every((c) => c.uplot), "the charts are uPlot's");
  const key = await page.$eval(".keys a.active", (a) => a.dataset.key);
  const api = await getJSON(`/api/views/stocks_ohlc_1m?key=${encodeURIComponent(key)}&all=true&limit=1000`);
  ok(api.rows.length > 0, `the API holds ${key}'s windows`);
  await waitFor(page, () => document.querySelectorAll("table.view-rows tbody tr").length > 0, null,
    "the explorer lists the windows");
  console.log(`demo.mjs: stocks_ohlc_1m, key ${key}: ${charts.map((c) => `${c.title} (${c.points} points)`).join(", ")}`);
  await shot(page, "views-stocks_ohlc_1m");
}

async function anomalies(page) {
  await page.goto(`${base}/#/anomalies`);
  await waitFor(page, () => document.querySelector("table.anomalies") !== null, null, "Anomalies loads");
  await shot(page, "anomalies");
}

async function dlq(page) {
  await page.goto(`${base}/#/dlq`);
  // The generators send 1% invalid records: the dlq fills.
  await waitFor(page, () => document.querySelectorAll("table.dlq tbody tr td:not(.muted)").length > 0, null,
    "the dlq shows dead-lettered records");
  await shot(page, "dlq");
}

// ---- Jobs: a run triggered from the page turns up completed.
async function jobs(page) {
  const job = "ohlc_every_minute";
  await page.goto(`${base}/#/jobs`);
  await waitFor(page, (j) => document.querySelector(`tr[data-job="${j}"] button`) !== null, job,
    `the jobs grid lists ${job}`);
  await page.click(`tr[data-job="${job}"] button`);
  await waitFor(page, (j) => /run \d+ queued/.test(document.body.textContent) &&
    document.body.textContent.includes(`${j}: run`), job, "the page says the run was queued");
  const run = await page.evaluate(() => /run (\d+) queued/.exec(document.body.textContent)[1]);
  await waitFor(page, (r) => document.querySelector(`.cell[data-run="${r}"][data-state="completed"]`) !== null,
    run, `run ${run} of ${job} shows as completed`, JOB_WAIT);
  await page.click(`.cell[data-run="${run}"]`);
  await waitFor(page, () => {
    const d = document.querySelector(".run-detail");
    return d !== null && d.textContent.includes("completed");
  }, null, "the run's detail shows it completed");
  await shot(page, "jobs");
}

// ---- Overview again, once its charts hold a few polls: the screenshot
// to look at.
async function overviewLive(page) {
  await page.goto(`${base}/#/`);
  await waitFor(page, () => {
    const c = document.querySelector('.chart[data-chart="Throughput (records/s)"]');
    return c !== null && Number(c.dataset.points) >= 5;
  }, null, "Overview's throughput chart has five polls");
  await shot(page, "overview-live");
}

async function main() {
  // launchServer, not launch: its process id goes to demo.sh's trap.
  const server = await chromium.launchServer({
    executablePath: chromiumPath,
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
  });
  writeFileSync(path.join(work, "chromium.pid"), String(server.process().pid));
  const browser = await chromium.connect(server.wsEndpoint());
  const problems = [];
  let page = null;
  try {
    page = await browser.newPage({viewport: {width: 1280, height: 900}});
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure().errorText}`));
    page.on("response", (r) => {
      if (r.status() >= 400) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    writeFileSync(path.join(work, "browser.ready"), "");

    const {url, t0} = await demoAddress();
    base = url;
    await overview(page, t0);
    await views(page);
    await topics(page);
    await pipelines(page);
    await anomalies(page);
    await dlq(page);
    await jobs(page);
    await overviewLive(page);
    const banner = await page.$eval("#error", (e) => (e.hidden ? "" : e.textContent));
    ok(banner === "", `no error banner (${banner})`);
  } catch (e) {
    if (page) await shot(page, "failure").catch(() => {});
    throw e;
  } finally {
    await browser.close();
    await server.close();
  }
  if (problems.length) throw new Error(`the browser reported:\n  ${problems.join("\n  ")}`);
  console.log(`demo.mjs: ${checks} checks passed`);
}

main().catch((e) => {
  console.error(`demo.mjs: ${e.stack || e}`);
  process.exit(1);
});
