// The dashboard's browser checks (run by dashboard.sh): a running `strata
// up` at BASE, Debian's chromium driven headless by playwright-core from
// tests/web. Records go in through POST /topics/stocks/records; every
// page is opened and its DOM checked against what went in, then more
// records go in and the page must show them without a reload.
//
// usage: node dashboard.mjs BASE CHROMIUM WORKDIR
//   WORKDIR/chromium.pid receives the browser's pid (dashboard.sh kills it
//   if this script dies before closing it).
//   STRATA_WEB_TOKEN=TOKEN: the server has that access token (http.token).
//   Requests from here send it as a bearer token, and the browser signs in
//   on the sign-in page first: a wrong token is refused there, the right
//   one opens the dashboard, the page's script and storage never hold it,
//   and after POST /logout the page says to sign in again.
import {createRequire} from "node:module";
import {writeFileSync} from "node:fs";
import {fileURLToPath} from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../web/package.json"));
const {chromium} = require("playwright-core");

const [base, chromiumPath, work] = process.argv.slice(2);
if (!base || !chromiumPath || !work) {
  console.error("usage: node dashboard.mjs BASE CHROMIUM WORKDIR");
  process.exit(2);
}

const WAIT = 20000; // ms: the page polls every 1.5 s; generous for ASan builds
const TOKEN = process.env.STRATA_WEB_TOKEN || "";
const AUTH = TOKEN ? {Authorization: `Bearer ${TOKEN}`} : {};
let checks = 0;

function ok(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
  checks++;
}

async function ingest(records) {
  const res = await fetch(`${base}/topics/stocks/records?key=symbol`, {
    method: "POST",
    headers: {"Content-Type": "application/json", ...AUTH},
    body: JSON.stringify(records),
  });
  const body = await res.json();
  ok(res.status === 200, `ingest answered ${res.status}: ${JSON.stringify(body)}`);
  return body;
}

async function getJSON(p) {
  const res = await fetch(base + p, {headers: AUTH});
  ok(res.ok, `GET ${p} answered ${res.status}`);
  return res.json();
}

function tick(symbol, minute, second, price, volume) {
  const mm = String(minute).padStart(2, "0");
  const ss = String(second).padStart(2, "0");
  return {symbol, price, volume, ts: `2026-01-01T10:${mm}:${ss}Z`};
}

// Ticks for three symbols over minutes [from, to), three a minute.
function ticks(from, to) {
  const out = [];
  for (let m = from; m < to; m++)
    for (const [i, s] of ["AAPL", "MSFT", "GOOG"].entries())
      for (let k = 0; k < 3; k++) out.push(tick(s, m, 10 + k * 15, 100 + i * 50 + m + k * 0.25, 100 + 10 * k));
  return out;
}

// ---- Without the token (STRATA_WEB_TOKEN set): nothing but /healthz.
async function checkLocked() {
  ok((await fetch(`${base}/healthz`)).status === 200, "/healthz needs no token");
  for (const p of ["/", "/static/app.js", "/api/topics", "/metrics"]) {
    const r = await fetch(base + p);
    ok(r.status === 401, `GET ${p} without the token is 401 (${r.status})`);
    ok((r.headers.get("www-authenticate") || "").startsWith("Bearer"), `GET ${p}: WWW-Authenticate: Bearer`);
    const w = await fetch(base + p, {headers: {Authorization: `Bearer ${TOKEN}x`}});
    ok(w.status === 401, `GET ${p} with a wrong token is 401 (${w.status})`);
  }
}

// ---- The embedded files, over plain HTTP.
async function checkStatic() {
  const fetch = (url, opts) => globalThis.fetch(url, {...opts, headers: {...AUTH, ...((opts || {}).headers)}});
  const idx = await fetch(`${base}/`);
  ok(idx.status === 200, "GET / is 200");
  ok(idx.headers.get("content-type").startsWith("text/html"), "GET / is text/html");
  ok((await idx.text()).includes("/static/uPlot.iife.min.js"), "index.html loads uPlot from /static");
  const types = {
    "app.js": "text/javascript", "pages.js": "text/javascript", "style.css": "text/css",
    "uPlot.iife.min.js": "text/javascript", "uPlot.min.css": "text/css",
  };
  for (const [f, t] of Object.entries(types)) {
    const r = await fetch(`${base}/static/${f}`);
    ok(r.status === 200 && r.headers.get("content-type").startsWith(t), `/static/${f} is ${t}`);
    const etag = r.headers.get("etag");
    ok(/^"[0-9a-f]{16}"$/.test(etag || ""), `/static/${f} has an ETag`);
    ok((await r.arrayBuffer()).byteLength > 0, `/static/${f} has a body`);
    const again = await fetch(`${base}/static/${f}`, {headers: {"If-None-Match": etag}});
    ok(again.status === 304, `/static/${f} with its ETag is 304`);
  }
  const js = await (await fetch(`${base}/static/uPlot.iife.min.js`)).text();
  ok(js.includes("uPlot"), "the embedded uPlot is uPlot");
  ok((await fetch(`${base}/static/nothing.js`)).status === 404, "an unknown file is 404");
  ok((await fetch(`${base}/static/index.html`)).status === 404, "index.html only at /");
}

// ---- Browser helpers.
async function canvases(page, minCount) {
  await page.waitForFunction((n) => {
    const cs = [...document.querySelectorAll(".chart canvas")];
    return cs.length >= n && cs.every((c) => c.width > 0 && c.height > 0 && c.getBoundingClientRect().width > 0);
  }, minCount, {timeout: WAIT});
  return page.$$eval(".chart canvas", (cs) => cs.length);
}

async function waitText(page, selector, pred, what) {
  try {
    await page.waitForFunction(({sel, src}) => {
      const e = document.querySelector(sel);
      // eslint-disable-next-line no-new-func
      return e !== null && new Function("t", `return (${src})(t)`)(e.textContent);
    }, {sel: selector, src: pred.toString()}, {timeout: WAIT});
  } catch (e) {
    const t = await page.$eval(selector, (x) => x.textContent).catch(() => "(absent)");
    throw new Error(`${what}: ${selector} never matched (now: ${t})`);
  }
  checks++;
}

async function count(page, selector) {
  return page.$$eval(selector, (xs) => xs.length);
}

async function waitCount(page, selector, pred, what) {
  try {
    await page.waitForFunction(({sel, src}) =>
      // eslint-disable-next-line no-new-func
      new Function("n", `return (${src})(n)`)(document.querySelectorAll(sel).length),
    {sel: selector, src: pred.toString()}, {timeout: WAIT});
  } catch (e) {
    throw new Error(`${what}: ${selector} count is ${await count(page, selector)}`);
  }
  checks++;
}

// STRATA_WEB_SHOTS=DIR keeps a screenshot of each page, to look at.
async function shot(page, name) {
  if (process.env.STRATA_WEB_SHOTS)
    await page.screenshot({path: path.join(process.env.STRATA_WEB_SHOTS, `${name}.png`), fullPage: true});
}

// ---- The pages.
async function overview(page, total) {
  await page.goto(`${base}/#/`);
  ok((await canvases(page, 4)) >= 4, "overview draws its four charts");
  await waitText(page, '[data-tile="records"] .value', `(t) => t === "${total.toLocaleString("en-US")}"`,
    "overview counts the records in topics");
  await waitCount(page, "table.pipelines tbody tr", (n) => n === 3, "overview lists the pipelines");
  await waitText(page, '[data-tile="pipelines"] .value', (t) => t === "3 / 3", "all pipelines running");
  await waitText(page, '[data-tile="p99"] .value', (t) => /\d/.test(t), "a p99 latency is shown");
  // Live: more records, the same page.
  await ingest(ticks(6, 7));
  const after = total + 9;
  await waitText(page, '[data-tile="records"] .value', `(t) => t === "${after.toLocaleString("en-US")}"`,
    "overview follows new records without a reload");
  await waitText(page, '[data-tile="anomalies"] .value', (t) => t === "1", "overview counts the anomaly");
  return after;
}

async function topics(page, total) {
  await page.goto(`${base}/#/topics`);
  await waitText(page, "table.topics tbody", (t) => t.includes("stocks"), "the topic is listed");
  await page.click("table.topics tbody tr");
  await waitCount(page, "table.records tbody tr", (n) => n > 0, "a partition's records are shown");
  await waitText(page, "table.records tbody", (t) => t.includes('"symbol"'), "record values are shown");
  const before = await count(page, "table.records tbody tr");
  ok(before <= 20, "at most 20 records are shown");
  const t = await getJSON("/api/topics/stocks");
  ok(t.records === total, `the topic holds ${total} records (${t.records})`);
}

async function pipelines(page) {
  await page.goto(`${base}/#/pipelines`);
  for (const n of ["ticks_table", "ohlc_1m", "spikes"])
    await waitText(page, "table.pipelines tbody", `(t) => t.includes("${n}")`, `pipeline ${n} listed`);
  await waitCount(page, "table.pipelines .state-running", (n) => n === 3, "pipelines shown running");
}

async function views(page) {
  await page.goto(`${base}/#/views/stocks_ohlc_1m`);
  await waitCount(page, ".keys a[data-key]", (n) => n === 3, "the view's three keys are listed");
  const keys = await page.$$eval(".keys a[data-key]", (xs) => xs.map((x) => x.dataset.key));
  ok(keys.join(",") === "AAPL,GOOG,MSFT", `keys are AAPL, GOOG, MSFT (${keys})`);
  ok((await canvases(page, 3)) === 3, "one chart per numeric column (close, volume, trades)");
  const titles = await page.$$eval(".chart .title", (xs) => xs.map((x) => x.textContent));
  ok(titles.join("|") === "close · AAPL|volume · AAPL|trades · AAPL", `chart titles (${titles})`);
  const view = await getJSON("/api/views/stocks_ohlc_1m?key=AAPL&all=true&limit=1000");
  await waitCount(page, "table.view-rows tbody tr", `(n) => n === ${view.rows.length}`,
    "every AAPL window is listed");
  // Another key.
  await page.click('.keys a[data-key="MSFT"]');
  await waitText(page, ".chart .title", (t) => t === "close · MSFT", "charts follow the chosen key");
  await canvases(page, 3);
  // Live: a new minute for MSFT appears as a new window.
  const n = await count(page, "table.view-rows tbody tr");
  await ingest([tick("MSFT", 9, 5, 170, 300)]);
  await waitCount(page, "table.view-rows tbody tr", `(k) => k === ${n + 1}`, "a new window shows up live");
  await waitText(page, "table.view-rows tbody tr td", (t) => t.startsWith("2026-01-01 10:09"),
    "the newest window is first");
}

async function anomalies(page) {
  await page.goto(`${base}/#/anomalies`);
  await waitCount(page, "table.anomalies tbody tr", (n) => n === 1, "the anomaly is listed");
  const row = await page.$eval("table.anomalies tbody tr", (e) => e.textContent);
  ok(row.includes("huge_volume") && row.includes("MSFT") && row.includes("spikes"), `anomaly row (${row})`);
  await ingest([tick("GOOG", 9, 30, 250, 500000)]);
  await waitCount(page, "table.anomalies tbody tr", (n) => n === 2, "a new anomaly shows up live");
  await waitText(page, "table.anomalies tbody tr", (t) => t.includes("GOOG"), "the newest anomaly is first");
}

async function dlq(page) {
  await page.goto(`${base}/#/dlq`);
  // One bad tick went in: each of the three pipelines dead-letters it.
  await waitCount(page, "table.dlq tbody tr", (n) => n === 3, "the invalid record is in the dlq");
  const text = await page.$eval("table.dlq tbody", (e) => e.textContent);
  ok(text.includes("below the minimum") && text.includes('"price":-1'), "the dlq shows reason and value");
  await ingest([{symbol: "AAPL", price: 10, ts: "2026-01-01T10:09:40Z"}]);
  await waitCount(page, "table.dlq tbody tr", (n) => n === 6, "a new invalid record shows up live");
  await waitText(page, "table.dlq tbody tr", (t) => t.includes("volume"), "the newest entry names its field");
  // The pipeline filter.
  await page.selectOption(".controls select >> nth=0", "spikes");
  await waitCount(page, "table.dlq tbody tr", (n) => n === 2, "the pipeline filter keeps spikes' entries");
}

async function jobs(page) {
  await page.goto(`${base}/#/jobs`);
  await waitCount(page, 'tr[data-job="tick_count"]', (n) => n === 1, "the job is in the grid");
  ok((await count(page, '.cell[data-job="tick_count"]')) === 0, "no run before the trigger");
  await page.click('tr[data-job="tick_count"] button');
  await waitCount(page, '.cell[data-job="tick_count"][data-state="completed"]', (n) => n === 1,
    "the triggered run turns up completed");
  await page.click('tr[data-job="tick_count"] button');
  await waitCount(page, '.cell[data-job="tick_count"][data-state="completed"]', (n) => n === 2,
    "a second run turns up live");
  await page.click('.cell[data-job="tick_count"][data-state="completed"] >> nth=0');
  await waitText(page, ".run-detail", (t) => t.includes("completed") && t.includes("statement 2"),
    "the run's detail shows its state and lineage");
}

// ---- The sign-in page (with a token): a wrong token is refused there,
// the right one opens the dashboard, and nothing the page's script can
// read holds it.
async function signIn(page) {
  const res = await page.goto(`${base}/#/`);
  ok(res.status() === 401, `the dashboard without the token is 401 (${res.status()})`);
  await page.waitForSelector("#signin", {timeout: WAIT});
  await shot(page, "signin");
  await page.fill("#token", "wrong-token-0123456789");
  await page.click("#signin button");
  await page.waitForSelector("#refused", {state: "visible", timeout: WAIT});
  checks++;
  await page.fill("#token", TOKEN);
  await page.click("#signin button");
  await page.waitForSelector("#nav", {timeout: WAIT}); // reloaded as the dashboard
  checks++;
  const seen = await page.evaluate(() => [document.cookie, JSON.stringify(sessionStorage),
    JSON.stringify(localStorage), document.documentElement.outerHTML].join("\n"));
  ok(!seen.includes(TOKEN), "the page's script, storage and DOM do not hold the token");
  const cookies = await page.context().cookies();
  const c = cookies.find((x) => x.name === "strata_token");
  ok(c && c.httpOnly && c.sameSite === "Strict", "the token cookie is HttpOnly and SameSite=Strict");
}

// ---- Signing out (with a token): the next poll says to sign in again,
// and a reload shows the sign-in page.
async function signOut(page) {
  await page.goto(`${base}/#/topics`);
  await waitText(page, "table.topics tbody", (t) => t.includes("stocks"), "topics before signing out");
  const st = await page.evaluate(async () => (await fetch("/logout", {method: "POST"})).status);
  ok(st === 204, `POST /logout from the page is 204 (${st})`);
  await page.waitForFunction(() => {
    const e = document.getElementById("error");
    return !e.hidden && e.textContent.includes("reload the page to sign in");
  }, null, {timeout: WAIT});
  checks++;
  const res = await page.reload();
  ok(res.status() === 401, "after signing out, a reload is 401");
  await page.waitForSelector("#signin", {timeout: WAIT});
  checks++;
}

async function main() {
  if (TOKEN) await checkLocked();
  await checkStatic();
  // Six minutes of ticks, one anomaly (MSFT's volume), one invalid tick.
  const first = ticks(0, 6).concat([tick("MSFT", 5, 50, 160, 250000), tick("AAPL", 5, 55, -1, 10)]);
  await ingest(first);

  // launchServer, not launch: its process id goes to dashboard.sh's trap.
  const server = await chromium.launchServer({
    executablePath: chromiumPath,
    headless: true,
    args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
  });
  writeFileSync(path.join(work, "chromium.pid"), String(server.process().pid));
  const browser = await chromium.connect(server.wsEndpoint());
  const problems = [];
  // The sign-in and sign-out steps expect 401s (and the browser's console
  // lines about them), and their reloads abort requests in flight;
  // everything between them must be clean.
  let expect401 = false;
  try {
    const page = await browser.newPage({viewport: {width: 1280, height: 900}});
    page.on("console", (m) => {
      if (m.type() === "error" && !expect401) problems.push(`console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("requestfailed", (r) => {
      if (!(expect401 && r.failure().errorText === "net::ERR_ABORTED"))
        problems.push(`request failed: ${r.url()} ${r.failure().errorText}`);
    });
    page.on("response", (r) => {
      if (r.status() >= 400 && !(expect401 && r.status() === 401)) problems.push(`HTTP ${r.status()} for ${r.url()}`);
    });
    page.on("request", (r) => {
      if (!r.url().startsWith(base) && !r.url().startsWith("data:")) problems.push(`off-site request: ${r.url()}`);
    });

    if (TOKEN) {
      expect401 = true;
      await signIn(page);
      expect401 = false;
    }
    const total = await overview(page, first.length);
    await shot(page, "overview");
    await topics(page, total);
    await shot(page, "topics");
    await pipelines(page);
    await shot(page, "pipelines");
    await views(page);
    await shot(page, "views");
    await anomalies(page);
    await shot(page, "anomalies");
    await dlq(page);
    await shot(page, "dlq");
    await jobs(page);
    await shot(page, "jobs");
    const banner = await page.$eval("#error", (e) => (e.hidden ? "" : e.textContent));
    ok(banner === "", `no error banner (${banner})`);
    if (TOKEN) {
      expect401 = true;
      await signOut(page);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  if (problems.length) throw new Error(`the browser reported:\n  ${problems.join("\n  ")}`);
  console.log(`dashboard.mjs: ${checks} checks passed`);
}

main().catch((e) => {
  console.error(`dashboard.mjs: ${e.stack || e}`);
  process.exit(1);
});
