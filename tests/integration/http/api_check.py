#!/usr/bin/python3
"""Checks of the serving API and /metrics against a running `strata up`
(tests/integration/http/api.sh starts it; see there for the config).

  api_check.py main PORT BROKER_PORT STRATA STORE_URL IMPORT_CSV
  api_check.py readyz-pg PORT PG_SH PG_DIR

Every check says what it expected; the first failure exits non-zero.
"""

import base64
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True

BASE = ""


def fail(msg):
    sys.exit("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def expect(what, got, want):
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def call(method, path, body=None, ctype="application/json"):
    """(status, parsed JSON or raw bytes, headers)."""
    headers = {}
    if body is not None and ctype is not None:
        headers["Content-Type"] = ctype
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, hdrs = e.code, e.read(), e.headers
    if hdrs.get("Content-Type", "").startswith("application/json") and raw:
        return status, json.loads(raw), hdrs
    return status, raw, hdrs


def get(path, want=200):
    st, doc, _ = call("GET", path)
    expect("GET %s status (%r)" % (path, doc if st != want else ""), st, want)
    return doc


def expect_error(method, path, want, body=None, ctype="application/json"):
    st, doc, _ = call(method, path, body, ctype)
    expect("%s %s status (%r)" % (method, path, doc), st, want)
    check(isinstance(doc, dict) and isinstance(doc.get("error"), str) and doc["error"],
          "%s %s: %d without an {\"error\": ...} body: %r" % (method, path, want, doc))
    return doc


def wait_for(what, fn, timeout=60):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    fail("timed out waiting for " + what + " (last: %r)" % (last,))


# ---- The data.

def ts(i):
    return "2026-01-01T10:%02d:%02dZ" % (i * 4 // 60, i * 4 % 60)


ORDERS = [{"id": i, "customer": "c%d" % (i % 4),
           "amount": float(1000 + i) if i in (7, 19, 33) else i * 10.0, "ts": ts(i)}
          for i in range(1, 41)]
BIG = [o for o in ORDERS if o["amount"] > 500]
PAY_VALID = [{"id": 100 + i, "customer": "p", "amount": 1.5, "ts": ts(i)} for i in range(4)]
PAY_BAD_X = {"id": "x", "customer": "p", "amount": 2, "ts": ts(1)}
PAY_BAD_MISSING = {"id": 105}
BINARY_KEY = b"k\xfe"
BINARY_VALUE = b"\xff\x00binary"
GROUP = "api-test"


def ingest():
    body = json.dumps(ORDERS[:25])
    st, doc, _ = call("POST", "/topics/orders/records?key=customer", body)
    expect("orders ingest", (st, doc.get("records")), (200, 25))
    nd = "\n".join(json.dumps(o) for o in ORDERS[25:]) + "\n"
    st, doc, _ = call("POST", "/topics/orders/records?key=customer&acks=all", nd,
                      "application/x-ndjson")
    expect("orders ndjson ingest", (st, doc.get("records")), (200, 15))
    pay = PAY_VALID[:2] + [PAY_BAD_X] + PAY_VALID[2:] + [PAY_BAD_MISSING]
    st, doc, _ = call("POST", "/topics/payments/records", json.dumps(pay))
    expect("payments ingest (schemaless topic)", (st, doc.get("records")), (200, 6))


def kafka_clients(broker):
    """A binary record through the Kafka protocol, and a group committing."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.structs import OffsetAndMetadata
    # Generous bounds: the suite runs two tests at a time on two cores, and
    # kafka-python probes the broker's API versions before its first send.
    p = KafkaProducer(bootstrap_servers=broker, acks="all", request_timeout_ms=60000,
                      max_block_ms=120000)
    p.send("payments", key=BINARY_KEY, value=BINARY_VALUE, partition=0).get(timeout=120)
    p.close(10)
    c = KafkaConsumer(bootstrap_servers=broker, group_id=GROUP, enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=10000,
                      heartbeat_interval_ms=1000, fetch_max_wait_ms=100)
    c.subscribe(["payments"])
    got = 0
    end = time.time() + 60
    while got < 7 and time.time() < end:
        for recs in c.poll(timeout_ms=500).values():
            got += len(recs)
    expect("records the group read", got, 7)
    c.commit({TopicPartition("payments", 0): OffsetAndMetadata(7, "")})
    c.close()


# ---- Checks, endpoint by endpoint.

def check_ready():
    def ready():
        st, doc, _ = call("GET", "/readyz")
        return doc if st == 200 else None
    doc = wait_for("/readyz 200", ready)
    expect("readyz", (doc["status"], doc["reasons"], doc["checks"]["store"],
                      doc["checks"]["broker"]), ("ready", [], "ok", "ok"))
    expect("readyz pipelines", doc["checks"]["pipelines"],
           {"orders_table": "running", "spend": "running", "big": "running",
            "payments_table": "running"})
    expect("healthz", get("/healthz"), {"status": "ok"})


def pipelines():
    return {p["name"]: p for p in get("/api/pipelines")["pipelines"]}


def wait_consumed(orders, payments):
    def done():
        ps = pipelines()
        ok = all(ps[n]["records"] == orders and ps[n]["lag"] == 0
                 for n in ("orders_table", "spend", "big"))
        return ps if ok and ps["payments_table"]["records"] == payments else None
    return wait_for("pipelines to consume %d orders, %d payments" % (orders, payments), done)


def check_pipelines():
    ps = wait_consumed(40, 9)
    want = {"orders_table": ("table", "orders", None, "orders_t"),
            "spend": ("aggregate", "orders", "spend_1m", None),
            "big": ("detect", "orders", None, None),
            "payments_table": ("table", "payments", None, "payments_t")}
    for name, (kind, topic, view, table) in want.items():
        p = ps[name]
        expect(name + " shape", (p["kind"], p["topic"], p["view"], p["table"], p["state"],
                                 p["error"]), (kind, topic, view, table, "running", None))
        check(p["rate"] is None or p["rate"] >= 0, name + " rate: %r" % p["rate"])
        for k in ("lag", "records", "valid", "invalid", "late", "filtered", "rows", "anomalies",
                  "commits", "commit_errors", "open_windows", "state_bytes", "view_version"):
            check(isinstance(p[k], int), "%s.%s is not an integer: %r" % (name, k, p[k]))
    expect("orders_table figures", (ps["orders_table"]["valid"], ps["orders_table"]["rows"]),
           (40, 40))
    expect("big anomalies", ps["big"]["anomalies"], len(BIG))
    expect("payments figures", (ps["payments_table"]["valid"], ps["payments_table"]["invalid"]),
           (6, 3))
    check(ps["spend"]["view_version"] >= 1, "spend view_version")


def check_topics():
    ts_ = {t["name"]: t for t in get("/api/topics")["topics"]}
    expect("topics listed", sorted(ts_), ["orders", "payments"])
    expect("orders summary", (ts_["orders"]["partitions"], ts_["orders"]["records"],
                              ts_["orders"]["schema"]), (2, 40, "order"))
    expect("payments summary", (ts_["payments"]["records"], ts_["payments"]["schema"]), (9, None))
    o = get("/api/topics/orders")
    expect("orders partitions", [p["partition"] for p in o["partitions"]], [0, 1])
    expect("orders offsets add up", sum(p["end_offset"] - p["start_offset"]
                                        for p in o["partitions"]), 40)
    check(all(p["size_bytes"] > 0 for p in o["partitions"] if p["records"] > 0), "sizes")
    expect("orders settings", o["settings"]["flush"], "never")
    expect_error("GET", "/api/topics/nope", 404)
    expect_error("GET", "/api/topics/__consumer_offsets", 403)
    return o


def browse_all(topic, partition, limit=7):
    out, offset = [], None
    while True:
        q = "/api/topics/%s/records?partition=%d&limit=%d" % (topic, partition, limit)
        if offset is not None:
            q += "&offset=%d" % offset
        doc = get(q)
        check(len(doc["records"]) <= limit, "page over the limit")
        out += doc["records"]
        if doc["next_offset"] >= doc["end_offset"]:
            return out, doc
        check(doc["next_offset"] > (offset or -1), "browse does not advance")
        offset = doc["next_offset"]


def check_records(topic_doc):
    seen = []
    for p in topic_doc["partitions"]:
        recs, _ = browse_all("orders", p["partition"])
        expect("offsets of partition %d" % p["partition"], [r["offset"] for r in recs],
               list(range(p["start_offset"], p["end_offset"])))
        for r in recs:
            expect("value format", (r["value_format"], r["key_format"]), ("json", "text"))
            expect("key is the customer", r["key"], r["value"]["customer"])
            check(r["timestamp"].endswith("Z") and isinstance(r["timestamp_ms"], int), "ts")
        seen += [r["value"] for r in recs]
    expect("browsed orders", sorted(seen, key=lambda o: o["id"]), ORDERS)
    pay, doc = browse_all("payments", 0)
    binary = [r for r in pay if r["value_format"] == "base64"]
    expect("the binary record", [(r["key"], r["key_format"], r["value"]) for r in binary],
           [(base64.b64encode(BINARY_KEY).decode(), "base64",
             base64.b64encode(BINARY_VALUE).decode())])
    text = [r for r in pay if r["value_format"] == "json"]
    expect("payments as JSON", len(text), 8)
    late = get("/api/topics/payments/records?from_time=2100-01-01T00:00:00Z")
    expect("from_time in the future", (late["records"], late["next_offset"]), ([], 9))
    early = get("/api/topics/payments/records?from_time=0&limit=2")
    expect("from_time 0", [r["offset"] for r in early["records"]], [0, 1])
    for bad in ("partition=5", "offset=100000", "offset=1&from_time=0", "limit=0",
                "from_time=yesterday", "partition=-1"):
        expect_error("GET", "/api/topics/payments/records?" + bad, 400)


def cli_view(strata, store, *args):
    out = subprocess.run([strata, "views", "query", "spend_1m", "--store", store] + list(args),
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def view_rows(query):
    rows, offset = [], 0
    while True:
        doc = get("/api/views/spend_1m?limit=3&offset=%d%s" % (offset, query))
        rows += doc["rows"]
        expect("page shape", (doc["view"], doc["limit"], doc["offset"]), ("spend_1m", 3, offset))
        if doc["next_offset"] is None:
            return rows
        expect("next offset", doc["next_offset"], offset + 3)
        offset = doc["next_offset"]


def check_views(strata, store, layer):
    views = get("/api/views")["views"]
    expect("views", [(v["name"], v["pipeline"], v["definition"]["kind"]) for v in views],
           [("spend_1m", "spend", "aggregate")])
    full = get("/api/views/spend_1m?all=true&limit=1000")
    expect("the view = strata views query", full["rows"], cli_view(strata, store, "--all"))
    expect("rows' layer", {r["layer"] for r in full["rows"]}, {layer})
    for r in full["rows"]:
        check(set(r) == {"key", "window_start", "window_end", "layer", "final", "total", "n"},
              "row keys: %r" % sorted(r))
    want = {}
    for o in ORDERS:
        k = (o["customer"], o["ts"][:16] + ":00Z")
        t, n = want.get(k, (0.0, 0))
        want[k] = (t + o["amount"], n + 1)
    expect("view values", {(r["key"], r["window_start"]): (r["total"], r["n"])
                           for r in full["rows"]}, want)
    expect("paged = whole", view_rows("&all=1"), full["rows"])
    one = get("/api/views/spend_1m?all=true&key=c1")["rows"]
    expect("key filter = CLI", one, cli_view(strata, store, "--all", "--key", "c1"))
    rng = get("/api/views/spend_1m?all=true&from=2026-01-01T10:01:00Z&to=1767261720000")["rows"]
    expect("from/to", {r["window_start"] for r in rng}, {"2026-01-01T10:01:00Z"})
    expect_error("GET", "/api/views/nope", 404)
    expect_error("GET", "/api/views/Bad-Name", 404)
    expect_error("GET", "/api/views/spend_1m?from=soon", 400)
    expect_error("GET", "/api/views/spend_1m?all=maybe", 400)


def check_tables(extra=()):
    rows, offset = [], 0
    while True:
        doc = get("/api/tables/orders_t?limit=7&offset=%d" % offset)
        expect("columns", doc["columns"], ["id", "customer", "amount", "ts", "_partition",
                                           "_offset"])
        expect("pipeline", doc["pipeline"], "orders_table")
        rows += doc["rows"]
        if doc["next_offset"] is None:
            break
        offset = doc["next_offset"]
    want = ORDERS + list(extra)
    expect("table rows (ordered by id)", [{k: r[k] for k in ("id", "customer", "amount", "ts")}
                                         for r in rows], sorted(want, key=lambda o: o["id"]))
    capped = get("/api/tables/orders_t?limit=5000")
    expect("limit capped", capped["limit"], 1000)
    pay = get("/api/tables/payments_t")
    expect("payments_t ids", sorted(r["id"] for r in pay["rows"]),
           [100, 101, 102, 103, 106, 107])
    for t in ("spend_1m", "strata_offsets", "dlq", "nope", "Orders_T"):
        expect_error("GET", "/api/tables/" + t, 404)
    expect_error("GET", "/api/tables/orders_t?limit=0", 400)
    expect_error("GET", "/api/tables/orders_t?offset=-2", 400)


def check_anomalies():
    doc = get("/api/anomalies")
    an = doc["anomalies"]
    expect("anomalies", sorted((a["key"], a["value"]) for a in an),
           sorted((o["customer"], o["amount"]) for o in BIG))
    expect("newest first", [a["id"] for a in an], sorted((a["id"] for a in an), reverse=True))
    for a in an:
        expect("anomaly", (a["pipeline"], a["rule"], a["topic"]), ("big", "large", "orders"))
        check(isinstance(a["detail"], dict), "detail is JSON: %r" % a["detail"])
        check(a["event_time"].startswith("2026-01-01T10:"), "event_time %r" % a["event_time"])
    key = BIG[0]["customer"]
    expect("key filter", {a["key"] for a in get("/api/anomalies?key=" + key)["anomalies"]}, {key})
    expect("rule filter", len(get("/api/anomalies?pipeline=big&rule=large")["anomalies"]),
           len(BIG))
    expect("other pipeline", get("/api/anomalies?pipeline=nope")["anomalies"], [])
    expect("since", get("/api/anomalies?since=2100-01-01T00:00:00Z")["anomalies"], [])
    page = get("/api/anomalies?limit=1")
    expect("page", (len(page["anomalies"]), page["next_offset"]), (1, 1))
    expect_error("GET", "/api/anomalies?since=later", 400)


def dlq(query=""):
    return get("/api/dlq?limit=1000" + query)["dlq"]


def check_dlq_and_replay():
    entries = dlq("&pipeline=payments_table")
    expect("dlq entries", len(entries), 3)
    expect("newest first", [e["id"] for e in entries], sorted((e["id"] for e in entries),
                                                             reverse=True))
    by_value = {json.dumps(e["value"], sort_keys=True): e for e in entries
                if e["value_format"] == "json"}
    x = by_value[json.dumps(PAY_BAD_X, sort_keys=True)]
    check(json.dumps(PAY_BAD_MISSING, sort_keys=True) in by_value, "the entry without fields")
    expect("entry x", (x["topic"], x["partition"], x["kind"], x["replayable"],
                       x["replayed_at"], x["replay_offset"]),
           ("payments", 0, "type", True, None, None))
    binary = [e for e in entries if e["value_format"] == "base64"]
    expect("binary entry", [(e["value"], e["key"], e["key_format"]) for e in binary],
           [(base64.b64encode(BINARY_VALUE).decode(), base64.b64encode(BINARY_KEY).decode(),
             "base64")])
    expect("kind filter", {e["kind"] for e in dlq("&kind=type")}, {"type"})

    st, doc, _ = call("POST", "/api/dlq/%d/replay" % x["id"])
    expect("replay status (%r)" % doc, st, 200)
    expect("replayed to", (doc["id"], doc["topic"], doc["partition"], doc["offset"]),
           (x["id"], "payments", 0, 9))
    after = {e["id"]: e for e in dlq()}[x["id"]]
    expect("marked", (after["replay_offset"], after["replayable"]), (9, False))
    check(after["replayed_at"] is not None, "replayed_at set")
    expect_error("POST", "/api/dlq/%d/replay" % x["id"], 409)
    expect_error("POST", "/api/dlq/999999/replay", 404)
    expect_error("POST", "/api/dlq/abc/replay", 404)
    wait_consumed(40, 10)
    again = wait_for("the replayed record back in the dlq",
                     lambda: [e for e in dlq("&pipeline=payments_table") if e["offset"] == 9])
    expect("replayed record", (again[0]["value"], again[0]["replayed_at"]), (PAY_BAD_X, None))
    r = get("/api/topics/payments/records?offset=9&limit=1")["records"][0]
    expect("the replayed record in the topic", (r["offset"], r["value"], r["key"]),
           (9, PAY_BAD_X, None))


def run_job(name, params=None):
    body = json.dumps(params) if params is not None else None
    st, doc, hdrs = call("POST", "/api/jobs/%s/run" % name, body)
    expect("trigger %s (%r)" % (name, doc), st, 202)
    rid = doc["run_id"]
    expect("trigger answer", (doc["job"], doc["state"], doc["run"], hdrs.get("Location")),
           (name, "pending", "/api/runs/%d" % rid, "/api/runs/%d" % rid))

    def done():
        run = get("/api/runs/%d" % rid)
        return run if run["state"] in ("completed", "failed") else None
    run = wait_for("run %d of %s" % (rid, name), done)
    expect("run %d of %s (%r)" % (rid, name, run.get("error")), run["state"], "completed")
    return run


def check_jobs(strata, store, import_csv):
    jobs = {j["name"]: j for j in get("/api/jobs")["jobs"]}
    expect("jobs", sorted(jobs), ["breaker", "imp", "replay:spend", "spend_batch", "totals"])
    expect("kinds", {n: j["kind"] for n, j in jobs.items()},
           {"breaker": "sql", "imp": "import", "replay:spend": "replay",
            "spend_batch": "recompute", "totals": "sql"})
    check(all(j["last_run"] is None for j in jobs.values()), "no run yet")
    run = run_job("totals")
    expect("sql lineage", [o["kind"] for o in run["lineage"]["outputs"]], ["sql", "sql"])
    expect("run fields", (run["job"], run["attempt"], run["rows_out"], run["error"]),
           ("totals", 1, 1, None))
    runs = get("/api/jobs/totals/runs")
    expect("runs of totals", [r["id"] for r in runs["runs"]], [run["id"]])
    check("lineage" not in runs["runs"][0], "lists leave lineage out")
    expect("last run", get("/api/jobs")["jobs"][-1]["last_run"]["id"], run["id"])
    expect_error("POST", "/api/jobs/nope/run", 404)
    expect_error("GET", "/api/jobs/nope/runs", 404)
    expect_error("POST", "/api/jobs/totals/run", 400, "not json")
    expect_error("POST", "/api/jobs/totals/run", 400, "[1]")
    expect_error("POST", "/api/jobs/totals/run", 415, "x=1", "text/plain")
    expect_error("GET", "/api/runs/999999", 404)

    rec = run_job("spend_batch", {"from": "2026-01-01T10:00:00Z", "to": "2026-01-01T10:05:00Z"})
    inputs = sorted((i["topic"], i["partition"]) for i in rec["lineage"]["inputs"])
    expect("recompute inputs", inputs, [("orders", 0), ("orders", 1)])
    expect("recompute outputs", [(o["kind"], o["name"]) for o in rec["lineage"]["outputs"]],
           [("view", "spend_1m")])
    expect("recompute params", rec["params"], {"from": "2026-01-01T10:00:00Z",
                                               "to": "2026-01-01T10:05:00Z"})
    check_views_after_batch(strata, store)

    imp = run_job("imp")
    expect("import lineage input", imp["lineage"]["inputs"][0]["file"], import_csv)
    entries = dlq("&pipeline=imp")
    expect("import dlq", [(e["topic"], e["replayable"]) for e in entries], [(import_csv, False)])
    expect_error("POST", "/api/dlq/%d/replay" % entries[0]["id"], 409)


def parse_metrics(text):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, value = line.rsplit(" ", 1)
        labels = ()
        if "{" in name_labels:
            name, rest = name_labels.split("{", 1)
            labels = tuple(sorted(tuple(kv.split("=", 1)) for kv in
                                  rest.rstrip("}").replace('"', "").split(",")))
        else:
            name = name_labels
        samples[(name, labels)] = float(value)
    return samples


def metric(samples, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    check(key in samples, "metric %s%r is missing" % (name, labels))
    return samples[key]


def check_metrics():
    st, text, hdrs = call("GET", "/metrics")
    expect("metrics status", st, 200)
    expect("metrics type", hdrs["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
    lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True)
    expect("promtool check metrics: %s" % (lint.stdout + lint.stderr).decode(), lint.returncode, 0)
    s = parse_metrics(text.decode())
    produced = sum(v for (n, l), v in s.items()
                   if n == "strata_topic_records_produced_total" and ("topic", "orders") in l)
    expect("orders produced", produced, 42)

    def orders_sum(name):
        return sum(v for (n, l), v in s.items() if n == name and ("topic", "orders") in l)
    stored = orders_sum("strata_topic_size_bytes")
    check(stored > 0, "orders stored bytes")
    expect("orders bytes produced = bytes stored (a fresh log)",
           orders_sum("strata_topic_bytes_produced_total"), stored)
    # Three pipelines read every batch of orders at least once.
    check(orders_sum("strata_topic_records_consumed_total") >= 3 * produced,
          "orders records consumed >= 3 x produced")
    check(orders_sum("strata_topic_bytes_consumed_total") >= 3 * stored,
          "orders bytes consumed >= 3 x stored")
    for p in ("orders_table", "spend", "big"):
        expect(p + " events processed = records ingested",
               metric(s, "strata_pipeline_records_total", pipeline=p, topic="orders"), produced)
        expect(p + " latency observations",
               metric(s, "strata_pipeline_latency_seconds_count", pipeline=p), produced)
        buckets = sorted(((float(dict(l)["le"]), v) for (n, l), v in s.items()
                          if n == "strata_pipeline_latency_seconds_bucket" and
                          ("pipeline", p) in l))
        expect("+Inf bucket", buckets[-1], (float("inf"), produced))
        check(all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:])), "buckets cumulative")
        expect(p + " bounds", buckets[0][0], 0.001)
        expect(p + " commit summary count",
               metric(s, "strata_pipeline_commit_duration_seconds_count", pipeline=p),
               metric(s, "strata_pipeline_commits_total", pipeline=p))
        expect(p + " state", metric(s, "strata_pipeline_state", pipeline=p, state="running"), 1)
    expect("valid", metric(s, "strata_pipeline_valid_total", pipeline="payments_table"), 6)
    expect("invalid", metric(s, "strata_pipeline_invalid_total", pipeline="payments_table"), 4)
    expect("anomalies", metric(s, "strata_pipeline_anomalies_total", pipeline="big"), len(BIG))
    expect("ingested over HTTP", metric(s, "strata_http_ingest_records_total"), 48)
    check(metric(s, "strata_kafka_requests_total", api="Produce") >= 1, "Produce requests")
    check(metric(s, "strata_kafka_requests_total", api="OffsetCommit") >= 1, "OffsetCommit")
    check(metric(s, "strata_memory_bytes", subsystem="stream") > 0, "stream memory")
    check(metric(s, "strata_memory_bytes", subsystem="http") > 0, "http memory")
    check(metric(s, "strata_http_connections") >= 1, "this scrape's connection")
    check(metric(s, "strata_http_requests_total") > 50, "HTTP requests counted")
    expect("store up", metric(s, "strata_store_up"), 1)

    def group_lag():
        got = parse_metrics(call("GET", "/metrics")[1].decode())
        key = ("strata_kafka_consumer_group_lag",
               (("group", GROUP), ("partition", "0"), ("topic", "payments")))
        return got if key in got else None
    g = wait_for("the consumer group's lag in /metrics", group_lag, 30)
    expect("group committed", metric(g, "strata_kafka_consumer_group_committed_offset",
                                     group=GROUP, topic="payments", partition="0"), 7)
    expect("group lag (payments end 10 - 7)", metric(g, "strata_kafka_consumer_group_lag",
                                                     group=GROUP, topic="payments",
                                                     partition="0"), 3)

    def jobs_counted():
        got = parse_metrics(call("GET", "/metrics")[1].decode())
        key = ("strata_job_runs", (("job", "imp"), ("state", "completed")))
        return got if key in got else None
    j = wait_for("job runs in /metrics (cached 5 s)", jobs_counted, 30)
    expect("totals runs", metric(j, "strata_job_runs", job="totals", state="completed"), 1)
    expect("durations counted", metric(j, "strata_job_run_duration_seconds_count", job="totals",
                                       state="completed"), 1)
    check(metric(j, "strata_job_last_success_timestamp_seconds", job="totals") > 1.7e9,
          "last success time")


EXPECTED_OPS = {
    ("get", "/healthz"), ("get", "/readyz"), ("get", "/metrics"),
    ("post", "/topics/{topic}/records"), ("get", "/api/topics"), ("get", "/api/topics/{topic}"),
    ("get", "/api/topics/{topic}/records"), ("get", "/api/pipelines"), ("get", "/api/views"),
    ("get", "/api/views/{view}"), ("get", "/api/tables/{table}"), ("get", "/api/anomalies"),
    ("get", "/api/dlq"), ("post", "/api/dlq/{id}/replay"), ("get", "/api/jobs"),
    ("get", "/api/jobs/{job}/runs"), ("post", "/api/jobs/{job}/run"), ("get", "/api/runs/{id}"),
    ("get", "/api/openapi.json"), ("get", "/docs"),
}


def check_docs():
    doc = get("/api/openapi.json")
    expect("openapi version", doc["openapi"][:2], "3.")
    ops = {(m, p) for p, item in doc["paths"].items() for m in item}
    expect("documented operations", ops, EXPECTED_OPS)
    for m, p in sorted(ops):
        if m == "get" and "{" not in p:
            st = call("GET", p)[0]
            check(st in (200, 503), "GET %s: %d" % (p, st))
    st, html, hdrs = call("GET", "/docs")
    expect("docs", (st, hdrs["Content-Type"]), (200, "text/html; charset=utf-8"))
    html = html.decode()
    for m, p in ops:
        check("<code>%s</code>" % p in html, "/docs lacks %s" % p)
    check("<script" not in html and "http://" not in html and "https://" not in html,
          "/docs must be self-contained")
    st, _, _ = call("HEAD", "/api/topics")
    expect("HEAD", st, 200)
    expect_error("DELETE", "/api/topics", 405)
    expect_error("GET", "/api/nothing", 404)


def check_readyz_failure():
    run_job("breaker")  # drops payments_t under the running pipeline
    st, doc, _ = call("POST", "/topics/payments/records",
                      json.dumps([{"id": 200, "customer": "q", "amount": 1, "ts": ts(2)}]))
    expect("payment after the drop", st, 200)

    def not_ready():
        st_, d, _ = call("GET", "/readyz")
        return d if st_ == 503 else None
    doc = wait_for("/readyz 503", not_ready)
    expect("readyz status", doc["status"], "not ready")
    check(any("payments_table" in r for r in doc["reasons"]), "reason: %r" % doc["reasons"])
    check("payments_table" in doc["error"], "error: %r" % doc["error"])
    state = doc["checks"]["pipelines"]["payments_table"]
    check(state in ("failed", "paused"), "payments_table is %s" % state)
    expect("the others", {k: v for k, v in doc["checks"]["pipelines"].items()
                          if k != "payments_table"},
           {"orders_table": "running", "spend": "running", "big": "running"})
    p = pipelines()["payments_table"]
    expect("pipeline state", p["state"], state)
    if state == "failed":
        check(p["error"], "a failed pipeline says why")


def main(port, broker_port, strata, store, import_csv):
    global BASE
    BASE = "http://127.0.0.1:%s" % port
    check_ready()
    ingest()
    kafka_clients("127.0.0.1:%s" % broker_port)
    # two more payments after the group's commit at 7: its lag grows
    st, _, _ = call("POST", "/topics/payments/records",
                    json.dumps([{"id": 106 + i, "customer": "p", "amount": 3, "ts": ts(i)}
                                for i in range(2)]))
    expect("payments after the commit", st, 200)
    check_pipelines()
    topic = check_topics()
    check_records(topic)
    check_views(strata, store, "speed")
    check_tables()
    check_anomalies()
    check_dlq_and_replay()
    check_jobs(strata, store, import_csv)
    wait_consumed(42, 10)
    check_tables(extra=[{"id": 901, "customer": "zoe", "amount": 12.5,
                         "ts": "2026-01-01T10:03:00Z"},
                        {"id": 903, "customer": "yan", "amount": 7.0,
                         "ts": "2026-01-01T10:03:20Z"}])
    check_metrics()
    check_docs()
    check_readyz_failure()
    print("api_check: ok")


def check_views_after_batch(strata, store):
    full = get("/api/views/spend_1m?all=true&limit=1000")["rows"]
    expect("after the recompute = strata views query", full, cli_view(strata, store, "--all"))
    expect("batch rows", {(r["layer"], r["final"]) for r in full}, {("batch", True)})


def readyz_pg(port, pg_sh, pg_dir):
    global BASE
    BASE = "http://127.0.0.1:%s" % port

    def status(want):
        def f():
            st, doc, _ = call("GET", "/readyz")
            return doc if st == want else None
        return f
    doc = wait_for("/readyz 200 on PostgreSQL", status(200))
    expect("pg readyz", (doc["checks"]["store"], doc["checks"]["broker"]), ("ok", "disabled"))
    subprocess.run([pg_sh, "kill", pg_dir], check=True, capture_output=True)
    doc = wait_for("/readyz 503 with the store down", status(503))
    check(doc["checks"]["store"] != "ok", "store check: %r" % doc["checks"]["store"])
    check(any(r.startswith("store: ") for r in doc["reasons"]), "reasons %r" % doc["reasons"])
    expect_error("GET", "/api/views", 503)
    subprocess.run([pg_sh, "restart", pg_dir], check=True, capture_output=True)
    doc = wait_for("/readyz 200 with the store back", status(200), 90)
    expect("pg readyz again", doc["reasons"], [])
    print("api_check readyz-pg: ok")


if __name__ == "__main__":
    if sys.argv[1] == "main":
        main(*sys.argv[2:7])
    elif sys.argv[1] == "readyz-pg":
        readyz_pg(*sys.argv[2:5])
    else:
        fail("unknown mode " + sys.argv[1])
