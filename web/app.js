/*
 * strata's dashboard, the frame: fetching the REST API, building DOM
 * without innerHTML (every value from the API goes in as text), the hash
 * router, the poller that refreshes the current page, uPlot charts and a
 * parser of /metrics. The pages are in pages.js and register themselves
 * in Strata.pages.
 *
 * Live updates: the current page's update() runs at once and then every
 * POLL_MS; a poll never overlaps the previous one, and leaving a page
 * stops its polling.
 */
"use strict";

const Strata = (() => {
  const POLL_MS = 1500;
  const pages = {};
  let current = null; // {page, state, params, timer, alive}

  // ---- Fetching. With an access token on the server (docs/http.md) the
  // browser holds it in an HttpOnly cookie from the sign-in page, sent with
  // every request; this script never sees it. A 401 means the cookie is
  // gone or the token changed: reloading shows the sign-in page again.
  const SIGNED_OUT = "not signed in: the server wants its access token (reload the page to sign in)";

  async function api(path, opts) {
    const res = await fetch(path, Object.assign({headers: {Accept: "application/json"}}, opts || {}));
    if (res.status === 401) throw new Error(`${path}: ${SIGNED_OUT}`);
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (e) {
      throw new Error(`${path}: answer is not JSON (${res.status})`);
    }
    if (!res.ok) throw new Error(`${path}: ${res.status} ${(body && body.error) || res.statusText}`);
    return body;
  }

  async function text(path) {
    const res = await fetch(path);
    if (res.status === 401) throw new Error(`${path}: ${SIGNED_OUT}`);
    if (!res.ok) throw new Error(`${path}: ${res.status} ${res.statusText}`);
    return res.text();
  }

  const enc = encodeURIComponent;

  // ---- DOM.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    append(e, children);
    return e;
  }

  function append(e, children) {
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
  }

  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
    return e;
  }

  function replace(e, ...children) {
    clear(e);
    append(e, children);
    return e;
  }

  // A table: cols are {label, num?, cell(row) -> node or text}.
  function table(cols, rows, opts) {
    opts = opts || {};
    const head = el("tr", null, cols.map((c) => el("th", {class: c.num ? "num" : null}, c.label)));
    const body = rows.map((r) => {
      const tr = el("tr", {class: opts.rowClass ? opts.rowClass(r) : null},
        cols.map((c) => el("td", {class: c.num ? "num" : null}, c.cell(r))));
      if (opts.onclick) {
        tr.classList.add("clickable");
        tr.addEventListener("click", () => opts.onclick(r));
      }
      return tr;
    });
    if (rows.length === 0)
      body.push(el("tr", null, el("td", {colspan: cols.length, class: "muted"}, opts.empty || "nothing yet")));
    return el("table", {class: opts.class || null}, el("thead", null, head), el("tbody", null, body));
  }

  function state(s) {
    return el("span", {class: `state state-${s || "unknown"}`}, s || "unknown");
  }

  // ---- Formatting.
  function num(v, digits) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (typeof v !== "number") return String(v);
    const d = digits === undefined ? (Number.isInteger(v) ? 0 : 2) : digits;
    return v.toLocaleString("en-US", {maximumFractionDigits: d, minimumFractionDigits: 0});
  }

  function bytes(v) {
    if (v === null || v === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${num(v, i ? 1 : 0)} ${units[i]}`;
  }

  function seconds(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "–";
    if (v < 1e-3) return `${num(v * 1e6, 0)} µs`;
    if (v < 1) return `${num(v * 1e3, 1)} ms`;
    return `${num(v, 2)} s`;
  }

  function time(iso) {
    if (!iso) return "–";
    return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
  }

  function json(v) {
    return typeof v === "string" ? v : JSON.stringify(v);
  }

  // ---- Charts (uPlot). A chart keeps its size in step with its box.
  const PALETTE = ["#2f6fde", "#e0632f", "#2e9d57", "#9b51e0", "#d64545", "#1fa2b8", "#b8860b", "#6a7480"];

  class Chart {
    // series: [{label, color?}] after the x axis; opts: {height, time (x is
    // epoch seconds unless false), utc (label x in UTC), points, yFormat}
    constructor(box, title, series, opts) {
      opts = opts || {};
      this.box = el("div", {class: "chart"}, el("div", {class: "title"}, title));
      this.box.dataset.chart = title;
      box.appendChild(this.box);
      const width = Math.max(300, this.box.clientWidth - 16);
      const axes = [{}, {size: 70, values: opts.yFormat ? (u, vals) => vals.map(opts.yFormat) : undefined}];
      this.plot = new uPlot({
        width,
        height: opts.height || 220,
        scales: {x: {time: opts.time !== false}},
        series: [{}].concat(series.map((s, i) => ({
          label: s.label,
          stroke: s.color || PALETTE[i % PALETTE.length],
          width: 2,
          points: {show: opts.points || false},
          value: opts.yFormat ? (u, v) => (v === null ? "–" : opts.yFormat(v)) : undefined,
        }))),
        axes,
        legend: {live: true},
        // Windows are UTC (as the API writes them); live samples are local.
        tzDate: opts.utc ? (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC") : undefined,
      }, [[]].concat(series.map(() => [])), this.box);
      this.observer = new ResizeObserver(() => {
        const w = Math.max(300, this.box.clientWidth - 16);
        if (Math.abs(w - this.plot.width) > 2) this.plot.setSize({width: w, height: this.plot.height});
      });
      this.observer.observe(this.box);
    }

    set(data) {
      this.plot.setData(data);
      // How many values of the first series are drawn: on the chart's box
      // as data-points, for tests and for a look in the inspector.
      const ys = data[1] || [];
      this.box.dataset.points = String(ys.filter((v) => v !== null && v !== undefined).length);
    }

    destroy() {
      this.observer.disconnect();
      this.plot.destroy();
    }
  }

  // A fixed-length history of samples for live charts: x (seconds) and
  // one array per named series.
  class History {
    constructor(names, max) {
      this.names = names;
      this.max = max || 240;
      this.x = [];
      this.ys = names.map(() => []);
    }

    push(t, values) {
      this.x.push(t);
      this.names.forEach((n, i) => this.ys[i].push(values[n] === undefined ? null : values[n]));
      if (this.x.length > this.max) {
        this.x.shift();
        this.ys.forEach((y) => y.shift());
      }
    }

    data() {
      return [this.x].concat(this.ys);
    }
  }

  // ---- /metrics: Prometheus text format -> [{name, labels, value}].
  function parseMetrics(body) {
    const out = [];
    for (const line of body.split("\n")) {
      if (!line || line[0] === "#") continue;
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
      if (!m) continue;
      const labels = {};
      if (m[3]) {
        const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
        let l;
        while ((l = re.exec(m[3])) !== null) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      }
      const v = m[4] === "+Inf" ? Infinity : m[4] === "-Inf" ? -Infinity : Number(m[4]);
      out.push({name: m[1], labels, value: v});
    }
    return out;
  }

  // Cumulative histogram buckets of `name`, summed over every label set:
  // [{le, count}] sorted by le.
  function histogram(metrics, name) {
    const by = new Map();
    for (const s of metrics) {
      if (s.name !== `${name}_bucket`) continue;
      const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
      by.set(le, (by.get(le) || 0) + s.value);
    }
    return [...by.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({le, count}));
  }

  // The q-quantile of cumulative buckets (interpolated inside the bucket,
  // as Prometheus's histogram_quantile does); null without observations.
  function quantile(q, buckets) {
    if (buckets.length === 0) return null;
    const total = buckets[buckets.length - 1].count;
    if (!(total > 0)) return null;
    const rank = q * total;
    let prevLe = 0;
    let prevCount = 0;
    for (const b of buckets) {
      if (b.count >= rank) {
        if (b.le === Infinity) return prevLe;
        const inBucket = b.count - prevCount;
        return inBucket > 0 ? prevLe + (b.le - prevLe) * ((rank - prevCount) / inBucket) : b.le;
      }
      prevLe = b.le;
      prevCount = b.count;
    }
    return prevLe;
  }

  // Buckets a minus buckets b (same bounds): the observations in between.
  function bucketsDelta(a, b) {
    if (!b || a.length !== b.length) return a;
    return a.map((x, i) => ({le: x.le, count: x.count - b[i].count}));
  }

  function sum(metrics, name, filter) {
    let t = 0;
    for (const s of metrics) if (s.name === name && (!filter || filter(s.labels))) t += s.value;
    return t;
  }

  // ---- Errors: one banner, cleared by the next good poll.
  function showError(msg) {
    const e = document.getElementById("error");
    if (msg) {
      e.textContent = msg;
      e.hidden = false;
    } else {
      e.hidden = true;
    }
  }

  // ---- Router and poller.
  function parseHash() {
    const h = location.hash.replace(/^#\/?/, "");
    const [path, query] = h.split("?");
    const parts = path.split("/").filter((p) => p !== "").map(decodeURIComponent);
    const params = new URLSearchParams(query || "");
    return {name: parts[0] || "overview", args: parts.slice(1), params};
  }

  function go(hash) {
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  async function poll(cur) {
    if (!cur.alive) return;
    try {
      await cur.page.update(cur.state);
      if (!cur.alive) return;
      showError(null);
      document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      if (cur.alive) showError(`Live update failed: ${e.message}`);
    }
    if (cur.alive) cur.timer = setTimeout(() => poll(cur), POLL_MS);
  }

  function route() {
    if (current) {
      current.alive = false;
      clearTimeout(current.timer);
      if (current.page.unmount) current.page.unmount(current.state);
    }
    const r = parseHash();
    const page = pages[r.name] || pages.overview;
    for (const a of document.querySelectorAll("#nav a"))
      a.classList.toggle("active", a.dataset.page === (pages[r.name] ? r.name : "overview"));
    const root = clear(document.getElementById("page"));
    const st = page.mount(root, r.args, r.params) || {};
    current = {page, state: st, alive: true, timer: null};
    poll(current);
  }

  // The header's health badge: pipelines' states, every few seconds.
  async function health() {
    const h = document.getElementById("health");
    try {
      const p = await api("/api/pipelines");
      const bad = p.pipelines.filter((x) => x.state === "failed");
      h.className = `health ${bad.length ? "bad" : "ok"}`;
      h.textContent = bad.length ? `${bad.length} pipeline(s) failed` : `${p.pipelines.length} pipelines ok`;
    } catch (e) {
      h.className = "health bad";
      h.textContent = "API unreachable";
    }
    setTimeout(health, 3000);
  }

  function start() {
    window.addEventListener("hashchange", route);
    route();
    health();
  }

  return {
    pages, api, text, enc, el, append, clear, replace, table, state, num, bytes, seconds, time, json,
    Chart, History, parseMetrics, histogram, quantile, bucketsDelta, sum, go, start, POLL_MS,
  };
})();

window.addEventListener("DOMContentLoaded", () => Strata.start());
