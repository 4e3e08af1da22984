/*
 * strata's dashboard, the pages. Each page is {mount(root, args, params)
 * -> state, update(state), unmount?(state)}: mount builds the static
 * frame, update (run by the poller in app.js every POLL_MS) fetches and
 * redraws. Charts are made once and fed new data on every update.
 */
"use strict";

(() => {
  const S = Strata;
  const {el, replace, table, num, api, enc} = S;

  function tile(label, id) {
    const v = el("div", {class: "value"}, "–");
    return {node: el("div", {class: "tile", dataset: {tile: id}}, el("div", {class: "label"}, label), v), value: v};
  }

  function setTile(t, text) {
    if (t.value.textContent !== text) t.value.textContent = text;
  }

  function destroyCharts(st) {
    for (const c of st.charts || []) c.destroy();
    st.charts = [];
  }

  // ------------------------------------------------------------------
  // Overview: throughput, latency, lag and errors, from /api/pipelines,
  // /api/topics and /metrics; rates are differences between two polls.
  // ------------------------------------------------------------------
  S.pages.overview = {
    mount(root) {
      const tiles = {
        in_rate: tile("Ingest (records/s)", "in_rate"),
        records: tile("Records in topics", "records"),
        processed: tile("Processed (records/s)", "processed"),
        p50: tile("Latency p50", "p50"),
        p99: tile("Latency p99", "p99"),
        lag: tile("Lag (records)", "lag"),
        errors: tile("Errors (records/s)", "errors"),
        anomalies: tile("Anomalies", "anomalies"),
        pipelines: tile("Pipelines running", "pipelines"),
      };
      const charts = el("div", {class: "charts"});
      const pipes = el("div");
      root.append(el("h1", null, "Overview"), el("div", {class: "tiles"}, Object.values(tiles).map((t) => t.node)),
        charts, el("h2", null, "Pipelines"), pipes);
      return {tiles, chartBox: charts, pipes, charts: [], prev: null, names: null};
    },

    makeCharts(st, names) {
      destroyCharts(st);
      st.names = names;
      const pipeSeries = names.map((n) => ({label: n}));
      st.thr = new S.History(["in"].concat(names));
      st.lat = new S.History(["p50", "p99"]);
      st.lagH = new S.History(names);
      st.err = new S.History(["invalid", "late", "commit_errors", "http_5xx"]);
      st.charts = [
        new S.Chart(st.chartBox, "Throughput (records/s)", [{label: "ingest"}].concat(pipeSeries)),
        new S.Chart(st.chartBox, "Latency, event in to result committed", [{label: "p50"}, {label: "p99"}],
          {yFormat: S.seconds}),
        new S.Chart(st.chartBox, "Lag (records behind the topic's end)", pipeSeries),
        new S.Chart(st.chartBox, "Errors (per second)",
          [{label: "invalid"}, {label: "late"}, {label: "commit errors"}, {label: "HTTP 5xx"}]),
      ];
    },

    async update(st) {
      const [p, tp, mtext] = await Promise.all([api("/api/pipelines"), api("/api/topics"), S.text("/metrics")]);
      const m = S.parseMetrics(mtext);
      const now = Date.now() / 1000;
      const names = p.pipelines.map((x) => x.name);
      if (!st.names || st.names.join("\n") !== names.join("\n")) this.makeCharts(st, names);
      const cur = {
        t: now,
        topicRecords: tp.topics.reduce((a, t) => a + t.records, 0),
        produced: S.sum(m, "strata_topic_records_produced_total"),
        pipes: Object.fromEntries(p.pipelines.map((x) => [x.name, x])),
        invalid: p.pipelines.reduce((a, x) => a + x.invalid, 0),
        late: p.pipelines.reduce((a, x) => a + x.late, 0),
        commitErrors: p.pipelines.reduce((a, x) => a + x.commit_errors, 0),
        http5xx: S.sum(m, "strata_http_responses_total", (l) => l.code === "5xx" || l.class === "5xx"),
        buckets: S.histogram(m, "strata_pipeline_latency_seconds"),
      };
      const prev = st.prev;
      const dt = prev ? cur.t - prev.t : 0;
      const rate = (a, b) => (prev && dt > 0 ? Math.max(0, (a - b) / dt) : null);

      const thr = {in: rate(cur.produced, prev && prev.produced)};
      if (thr.in === null) thr.in = tp.topics.reduce((a, t) => a + (t.rate || 0), 0);
      let processed = 0;
      for (const x of p.pipelines) {
        const r = prev && prev.pipes[x.name] ? rate(x.records, prev.pipes[x.name].records) : x.rate;
        thr[x.name] = r;
        processed += r || 0;
      }
      const delta = S.bucketsDelta(cur.buckets, prev && prev.buckets);
      const fresh = delta.length && delta[delta.length - 1].count > 0;
      const lat = fresh ? {p50: S.quantile(0.5, delta), p99: S.quantile(0.99, delta)}
        : {p50: null, p99: null};
      if (fresh) st.lastLat = lat;
      else if (!prev) st.lastLat = {p50: S.quantile(0.5, cur.buckets), p99: S.quantile(0.99, cur.buckets)};
      const lags = Object.fromEntries(p.pipelines.map((x) => [x.name, x.lag]));
      const err = {
        invalid: rate(cur.invalid, prev && prev.invalid),
        late: rate(cur.late, prev && prev.late),
        commit_errors: rate(cur.commitErrors, prev && prev.commitErrors),
        http_5xx: rate(cur.http5xx, prev && prev.http5xx),
      };
      st.thr.push(now, thr);
      st.lat.push(now, lat);
      st.lagH.push(now, lags);
      st.err.push(now, err);
      st.charts[0].set(st.thr.data());
      st.charts[1].set(st.lat.data());
      st.charts[2].set(st.lagH.data());
      st.charts[3].set(st.err.data());
      st.prev = cur;

      const t = st.tiles;
      setTile(t.in_rate, num(thr.in, 1));
      setTile(t.records, num(cur.topicRecords));
      setTile(t.processed, num(processed, 1));
      setTile(t.p50, S.seconds(st.lastLat ? st.lastLat.p50 : null));
      setTile(t.p99, S.seconds(st.lastLat ? st.lastLat.p99 : null));
      setTile(t.lag, num(p.pipelines.reduce((a, x) => a + x.lag, 0)));
      setTile(t.errors, num((err.invalid || 0) + (err.late || 0) + (err.commit_errors || 0), 1));
      setTile(t.anomalies, num(p.pipelines.reduce((a, x) => a + x.anomalies, 0)));
      const running = p.pipelines.filter((x) => x.state === "running").length;
      setTile(t.pipelines, `${running} / ${p.pipelines.length}`);
      replace(st.pipes, pipelineTable(p.pipelines, true));
    },

    unmount: destroyCharts,
  };

  function pipelineTable(pipelines, brief) {
    const cols = [
      {label: "pipeline", cell: (x) => x.name},
      {label: "kind", cell: (x) => x.kind},
      {label: "state", cell: (x) => [S.state(x.state), x.error ? el("div", {class: "muted"}, x.error) : null]},
      {label: "topic", cell: (x) => (x.topic ? el("a", {href: `#/topics/${enc(x.topic)}`}, x.topic) : "–")},
      {label: "output", cell: (x) => (x.view ? el("a", {href: `#/views/${enc(x.view)}`}, x.view) : x.table || "–")},
      {label: "records/s", num: true, cell: (x) => num(x.rate, 1)},
      {label: "records", num: true, cell: (x) => num(x.records)},
      {label: "lag", num: true, cell: (x) => num(x.lag)},
    ];
    if (!brief) {
      cols.push(
        {label: "valid", num: true, cell: (x) => num(x.valid)},
        {label: "invalid", num: true, cell: (x) => num(x.invalid)},
        {label: "late", num: true, cell: (x) => num(x.late)},
        {label: "filtered", num: true, cell: (x) => num(x.filtered)},
        {label: "rows", num: true, cell: (x) => num(x.rows)},
        {label: "anomalies", num: true, cell: (x) => num(x.anomalies)},
        {label: "open windows", num: true, cell: (x) => num(x.open_windows)},
        {label: "commits", num: true, cell: (x) => `${num(x.commits)}${x.commit_errors ? ` (${x.commit_errors} failed)` : ""}`},
        {label: "watermark", cell: (x) => S.time(x.watermark)});
    }
    return table(cols, pipelines, {class: "pipelines", empty: "no pipelines configured"});
  }

  // ------------------------------------------------------------------
  // Pipelines.
  // ------------------------------------------------------------------
  S.pages.pipelines = {
    mount(root) {
      const box = el("div");
      root.append(el("h1", null, "Pipelines"), box);
      return {box};
    },
    async update(st) {
      const p = await api("/api/pipelines");
      replace(st.box, pipelineTable(p.pipelines, false));
    },
  };

  // ------------------------------------------------------------------
  // Topics: the list; #/topics/NAME the partitions and the newest records
  // of one partition.
  // ------------------------------------------------------------------
  S.pages.topics = {
    mount(root, args, params) {
      const st = {topic: args[0] || null, partition: Number(params.get("partition") || 0), box: el("div")};
      if (!st.topic) {
        root.append(el("h1", null, "Topics"), st.box);
        return st;
      }
      st.parts = el("div");
      st.records = el("div");
      st.select = el("select", {onchange: () => S.go(`#/topics/${enc(st.topic)}?partition=${st.select.value}`)});
      root.append(el("h1", null, el("a", {href: "#/topics"}, "Topics"), " / ", st.topic), st.box, st.parts,
        el("h2", null, "Newest records"),
        el("div", {class: "controls"}, el("label", null, "partition ", st.select)), st.records);
      return st;
    },

    async update(st) {
      if (!st.topic) {
        const t = await api("/api/topics");
        replace(st.box, table([
          {label: "topic", cell: (x) => el("a", {href: `#/topics/${enc(x.name)}`}, x.name)},
          {label: "partitions", num: true, cell: (x) => num(x.partitions)},
          {label: "records", num: true, cell: (x) => num(x.records)},
          {label: "size", num: true, cell: (x) => S.bytes(x.size_bytes)},
          {label: "records/s", num: true, cell: (x) => num(x.rate, 1)},
          {label: "schema", cell: (x) => x.schema || "–"},
        ], t.topics, {class: "topics", onclick: (x) => S.go(`#/topics/${enc(x.name)}`), empty: "no topics"}));
        return;
      }
      const t = await api(`/api/topics/${enc(st.topic)}`);
      replace(st.box, el("div", {class: "tiles"},
        [["Records", num(t.records)], ["Size", S.bytes(t.size_bytes)], ["Records/s", num(t.rate, 1)],
          ["Schema", t.schema || "none"]].map(([l, v]) =>
          el("div", {class: "tile"}, el("div", {class: "label"}, l), el("div", {class: "value"}, v)))));
      replace(st.parts, table([
        {label: "partition", num: true, cell: (x) => x.partition},
        {label: "start offset", num: true, cell: (x) => num(x.start_offset)},
        {label: "end offset", num: true, cell: (x) => num(x.end_offset)},
        {label: "records", num: true, cell: (x) => num(x.records)},
        {label: "size", num: true, cell: (x) => S.bytes(x.size_bytes)},
      ], t.partitions));
      if (st.select.options.length !== t.partitions.length) {
        replace(st.select, t.partitions.map((x) => el("option", {value: x.partition}, String(x.partition))));
        st.select.value = String(st.partition);
      }
      const part = t.partitions.find((x) => x.partition === st.partition) || t.partitions[0];
      if (!part) return;
      const from = Math.max(part.start_offset, part.end_offset - 20);
      const r = await api(`/api/topics/${enc(st.topic)}/records?partition=${part.partition}&offset=${from}&limit=20`);
      replace(st.records, table([
        {label: "offset", num: true, cell: (x) => x.offset},
        {label: "timestamp", cell: (x) => S.time(x.timestamp)},
        {label: "key", cell: (x) => (x.key === null ? "null" : S.json(x.key))},
        {label: "value", cell: (x) => el("pre", null, S.json(x.value))},
      ], r.records.slice().reverse(), {class: "records", empty: "no records in this partition"}));
    },
  };

  // ------------------------------------------------------------------
  // View explorer: #/views/VIEW?key=K. Keys are listed with their newest
  // window; the chosen key's numeric columns are charted over
  // window_start, one chart per column.
  // ------------------------------------------------------------------
  const ROW_META = new Set(["key", "window_start", "window_end", "layer", "final"]);

  async function viewRows(view, key, maxPages) {
    let rows = [];
    let offset = 0;
    for (let i = 0; i < maxPages; i++) {
      const q = `/api/views/${enc(view)}?all=true&limit=1000&offset=${offset}${key !== null ? `&key=${enc(key)}` : ""}`;
      const r = await api(q);
      rows = rows.concat(r.rows);
      if (r.next_offset === null || r.next_offset === undefined) break;
      offset = r.next_offset;
    }
    return rows;
  }

  S.pages.views = {
    mount(root, args, params) {
      const st = {view: args[0] || null, key: params.get("key"), charts: [], chartKey: null,
        views: el("div", {class: "list views"}), keys: el("div", {class: "list keys"}),
        cols: el("div", {class: "controls"}), chartBox: el("div", {class: "charts"}), rows: el("div"),
        selected: params.get("cols") ? new Set(params.get("cols").split(",")) : null};
      const title = el("h1", null, "Views", st.view ? ` / ${st.view}` : "");
      root.append(title, el("div", {class: "layout"},
        el("div", null, el("h2", null, "Views"), st.views, el("h2", null, "Keys"), st.keys),
        el("div", null, st.cols, st.chartBox, el("h2", null, "Windows"), st.rows)));
      return st;
    },

    async update(st) {
      const v = await api("/api/views");
      replace(st.views, v.views.map((x) => el("a", {href: `#/views/${enc(x.name)}`,
        class: x.name === st.view ? "active" : null, dataset: {view: x.name}},
      el("span", null, x.name), el("span", {class: "muted"}, x.definition ? x.definition.window || "" : ""))));
      if (v.views.length === 0) replace(st.views, el("div", {class: "muted"}, "no views"));
      if (!st.view) {
        if (v.views.length) S.go(`#/views/${enc(v.views[0].name)}`);
        return;
      }
      const def = (v.views.find((x) => x.name === st.view) || {}).definition || {};
      const all = await viewRows(st.view, null, 5);
      const byKey = new Map();
      for (const r of all) {
        const k = r.key === null ? "" : String(r.key);
        const e = byKey.get(k);
        if (!e || r.window_start > e.last.window_start) byKey.set(k, {last: r, n: (e ? e.n : 0) + 1});
        else e.n++;
      }
      const numeric = this.numericColumns(def, all);
      if (st.key === null && byKey.size) st.key = [...byKey.keys()].sort()[0];
      const first = numeric[0];
      replace(st.keys, [...byKey.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, e]) =>
        el("a", {href: `#/views/${enc(st.view)}?key=${enc(k)}`, class: k === st.key ? "active" : null, dataset: {key: k}},
          el("span", null, k), el("span", {class: "muted"}, first ? `${first} ${num(e.last[first])}` : `${e.n} windows`))));
      if (byKey.size === 0) replace(st.keys, el("div", {class: "muted"}, "no rows yet"));
      if (st.key === null) return;

      if (!st.selected) st.selected = new Set(numeric.slice(0, 4));
      const chosen = numeric.filter((c) => st.selected.has(c));
      this.columnPicker(st, numeric);
      const rows = (await viewRows(st.view, st.key, 10)).sort((a, b) => (a.window_start < b.window_start ? -1 : 1));
      const sig = `${st.view}\n${st.key}\n${chosen.join(",")}`;
      if (st.chartKey !== sig) {
        destroyCharts(st);
        st.chartKey = sig;
        st.charts = chosen.map((c) => new S.Chart(st.chartBox, `${c} · ${st.key}`, [{label: c}],
          {points: rows.length < 60, utc: true}));
      }
      const x = rows.map((r) => Date.parse(r.window_start) / 1000);
      chosen.forEach((c, i) => st.charts[i].set([x, rows.map((r) => (typeof r[c] === "number" ? r[c] : null))]));
      const cols = [{label: "window_start", cell: (r) => S.time(r.window_start)},
        {label: "layer", cell: (r) => r.layer || "–"},
        {label: "final", cell: (r) => (r.final ? "yes" : "open")}]
        .concat(Object.keys(rows[0] || {}).filter((c) => !ROW_META.has(c))
          .map((c) => ({label: c, num: typeof rows[0][c] === "number", cell: (r) => (typeof r[c] === "number" ? num(r[c]) : S.json(r[c]))})));
      replace(st.rows, table(cols, rows.slice(-50).reverse(), {class: "view-rows"}));
    },

    // Columns to chart: the view's aggregates when it says, else every
    // column holding numbers.
    numericColumns(def, rows) {
      const names = new Set();
      for (const r of rows.slice(0, 50))
        for (const [k, val] of Object.entries(r)) if (!ROW_META.has(k) && typeof val === "number") names.add(k);
      const agg = (def.aggregates || []).map((a) => a.name).filter((n) => names.has(n));
      return agg.length ? agg.concat([...names].filter((n) => !agg.includes(n))) : [...names];
    },

    columnPicker(st, numeric) {
      const have = [...st.cols.querySelectorAll("input")].map((i) => i.value).join(",");
      if (have === numeric.join(",")) return;
      replace(st.cols, el("span", {class: "muted"}, "chart:"), numeric.map((c) => {
        const box = el("input", {type: "checkbox", value: c, checked: st.selected.has(c) ? true : null,
          onchange: () => {
            if (box.checked) st.selected.add(c);
            else st.selected.delete(c);
            st.chartKey = null;
          }});
        return el("label", null, box, ` ${c}`);
      }));
    },

    unmount: destroyCharts,
  };

  // ------------------------------------------------------------------
  // Anomalies: the newest first; rows that arrived since the last poll
  // flash.
  // ------------------------------------------------------------------
  S.pages.anomalies = {
    mount(root) {
      const st = {box: el("div"), count: el("span", {class: "muted"}), seen: null};
      root.append(el("h1", null, "Anomalies ", st.count), st.box);
      return st;
    },
    async update(st) {
      const a = await api("/api/anomalies?limit=200");
      const seen = st.seen;
      st.count.textContent = `(${a.anomalies.length}${a.next_offset !== null ? "+" : ""})`;
      replace(st.box, table([
        {label: "id", num: true, cell: (x) => x.id},
        {label: "event time", cell: (x) => S.time(x.event_time)},
        {label: "pipeline", cell: (x) => x.pipeline},
        {label: "rule", cell: (x) => x.rule},
        {label: "key", cell: (x) => (x.key === null ? "–" : x.key)},
        {label: "value", num: true, cell: (x) => num(x.value)},
        {label: "score", num: true, cell: (x) => num(x.score)},
        {label: "detail", cell: (x) => el("code", null, S.json(x.detail))},
        {label: "source", cell: (x) => `${x.topic}/${x.partition}@${x.offset}`},
      ], a.anomalies, {class: "anomalies", empty: "no anomalies",
        rowClass: (x) => (seen !== null && x.id > seen ? "fresh" : null)}));
      st.seen = a.anomalies.reduce((m, x) => Math.max(m, x.id), seen || 0);
    },
  };

  // ------------------------------------------------------------------
  // DLQ: filter by pipeline and kind; replay a replayable record.
  // ------------------------------------------------------------------
  S.pages.dlq = {
    mount(root, args, params) {
      const st = {box: el("div"), pipeline: params.get("pipeline") || "", kind: params.get("kind") || "",
        filters: el("div", {class: "controls"}), note: el("span", {class: "muted"})};
      root.append(el("h1", null, "Dead-letter queue"), st.filters, st.box);
      return st;
    },

    filterSelect(st, name, values) {
      const sel = el("select", {onchange: () => {
        st[name] = sel.value;
        const q = new URLSearchParams();
        if (st.pipeline) q.set("pipeline", st.pipeline);
        if (st.kind) q.set("kind", st.kind);
        S.go(`#/dlq?${q}`);
      }}, el("option", {value: ""}, "all"), values.map((v) => el("option", {value: v}, v)));
      sel.value = st[name];
      return el("label", null, `${name} `, sel);
    },

    async update(st) {
      const q = new URLSearchParams({limit: "200"});
      if (st.pipeline) q.set("pipeline", st.pipeline);
      if (st.kind) q.set("kind", st.kind);
      const [d, p] = await Promise.all([api(`/api/dlq?${q}`), api("/api/pipelines")]);
      if (!st.filtersBuilt) {
        st.filtersBuilt = true;
        replace(st.filters, this.filterSelect(st, "pipeline", p.pipelines.map((x) => x.name)),
          this.filterSelect(st, "kind", ["invalid_json", "too_big", "type", "required", "check", "rule", "late"]),
          st.note);
      }
      replace(st.box, table([
        {label: "id", num: true, cell: (x) => x.id},
        {label: "created", cell: (x) => S.time(x.created_at)},
        {label: "pipeline", cell: (x) => x.pipeline},
        {label: "kind", cell: (x) => x.kind},
        {label: "reason", cell: (x) => x.reason},
        {label: "source", cell: (x) => `${x.topic}/${x.partition}@${x.offset}`},
        {label: "key", cell: (x) => (x.key === null ? "null" : S.json(x.key))},
        {label: "value", cell: (x) => el("pre", null, S.json(x.value))},
        {label: "replay", cell: (x) => this.replayCell(st, x)},
      ], d.dlq, {class: "dlq", empty: "the dead-letter queue is empty"}));
    },

    replayCell(st, x) {
      if (x.replayed_at) return el("span", {class: "muted"}, `replayed at offset ${x.replay_offset}`);
      if (!x.replayable) return "–";
      return el("button", {onclick: async (ev) => {
        ev.stopPropagation();
        try {
          const r = await api(`/api/dlq/${x.id}/replay`, {method: "POST"});
          st.note.textContent = `record ${x.id} replayed${r && r.offset !== undefined ? ` at offset ${r.offset}` : ""}`;
        } catch (e) {
          st.note.textContent = `replay failed: ${e.message}`;
        }
      }}, "replay");
    },
  };

  // ------------------------------------------------------------------
  // Jobs: a grid of jobs by their newest runs, each cell colored by its
  // state (oldest on the left); a cell opens the run with its lineage.
  // ------------------------------------------------------------------
  const GRID_RUNS = 25;

  S.pages.jobs = {
    mount(root, args, params) {
      const st = {grid: el("div", {class: "panel"}), detail: el("div"), note: el("span", {class: "muted"}),
        run: params.get("run")};
      const legend = el("div", {class: "legend"}, ["completed", "running", "retrying", "pending", "failed"].map((s) =>
        el("span", null, el("span", {class: `cell state-${s}`}), s)));
      root.append(el("h1", null, "Jobs"), legend, st.grid, st.note, st.detail);
      return st;
    },

    async update(st) {
      const j = await api("/api/jobs");
      const runs = await Promise.all(j.jobs.map((x) => api(`/api/jobs/${enc(x.name)}/runs?limit=${GRID_RUNS}`)));
      const head = el("tr", null, el("th", null, "job"), el("th", null, "kind"), el("th", null, "schedule"),
        el("th", null, ""), el("th", {colspan: GRID_RUNS}, `newest ${GRID_RUNS} runs →`));
      const rows = j.jobs.map((job, i) => {
        const rs = runs[i].runs.slice().reverse(); // oldest first
        const cells = [];
        for (let k = rs.length; k < GRID_RUNS; k++) cells.push(el("td", null, el("span", {class: "cell"})));
        for (const r of rs) {
          const title = `run ${r.id}: ${r.state}\nlogical date ${S.time(r.logical_date)}` +
            `${r.duration_ms !== null ? `\n${num(r.duration_ms)} ms` : ""}${r.error ? `\n${r.error}` : ""}`;
          cells.push(el("td", null, el("span", {class: `cell run state-${r.state}`, title,
            dataset: {job: job.name, run: r.id, state: r.state}, onclick: () => S.go(`#/jobs?run=${r.id}`)})));
        }
        return el("tr", {dataset: {job: job.name}}, el("td", {class: "job"}, job.name), el("td", null, job.kind),
          el("td", {class: "mono"}, job.schedule || "manual"),
          el("td", null, el("button", {onclick: () => this.trigger(st, job.name)}, "run")), cells);
      });
      replace(st.grid, el("table", {class: "grid"}, el("thead", null, head), el("tbody", null, rows)));
      if (j.jobs.length === 0) replace(st.grid, el("div", {class: "muted"}, "no jobs configured"));
      if (st.run) await this.showRun(st);
    },

    async trigger(st, name) {
      try {
        const r = await api(`/api/jobs/${enc(name)}/run`, {method: "POST"});
        st.note.textContent = `${name}: run ${r.run_id} queued`;
      } catch (e) {
        st.note.textContent = `${name}: ${e.message}`;
      }
    },

    async showRun(st) {
      const r = await api(`/api/runs/${enc(st.run)}`);
      const fields = [["job", r.job], ["state", S.state(r.state)], ["attempt", r.attempt],
        ["logical date", S.time(r.logical_date)], ["interval end", S.time(r.interval_end)],
        ["started", S.time(r.started_at)], ["finished", S.time(r.finished_at)],
        ["duration", r.duration_ms === null ? "–" : `${num(r.duration_ms)} ms`],
        ["rows in / out", `${num(r.rows_in)} / ${num(r.rows_out)}`], ["owner", r.owner || "–"],
        ["error", r.error || "–"]];
      const lin = r.lineage || {inputs: [], outputs: []};
      // Outputs are {kind, name, rows}; a topic input is {topic, partition, from, to}.
      const io = (list) => table([
        {label: "kind", cell: (x) => x.kind || (x.topic !== undefined ? "topic" : "–")},
        {label: "name", cell: (x) => (x.topic !== undefined && !x.name
          ? `${x.topic} partition ${x.partition}, offsets ${num(x.from)} to ${num(x.to)}` : x.name || "–")},
        {label: "rows", num: true, cell: (x) => num(x.rows)}], list, {empty: "none"});
      replace(st.detail, el("div", {class: "panel run-detail", dataset: {run: r.id}}, el("h2", null, `Run ${r.id}`),
        table([{label: "field", cell: (x) => x[0]}, {label: "value", cell: (x) => x[1]}], fields),
        el("h2", null, "Inputs"), io(lin.inputs || []), el("h2", null, "Outputs"), io(lin.outputs || [])));
    },
  };
})();
