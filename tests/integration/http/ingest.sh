#!/usr/bin/env bash
# HTTP ingest end to end: `strata up --http-listen 127.0.0.1:0` over a
# config with a schema'd topic (field checks and a rule), a schemaless
# topic and a table pipeline, driven by Python's urllib (a real HTTP
# client):
#   - GET /healthz is 200 {"status":"ok"};
#   - a JSON array keyed by a field and an NDJSON body (acks=all) are 200
#     with offsets that tile each partition without gaps;
#   - a batch with bad records is 422 listing each one (index, line, kind,
#     field) and writes nothing; invalid JSON is 400 with its line and
#     column; an oversized body 413; an unknown topic 404; a wrong
#     Content-Type 415; GET on the route 405; bad acks or partition 400;
#     acks=0 is 202;
#   - four clients posting at once are all served;
#   - the table pipeline's rows in SQLite are exactly the accepted orders;
#   - after a clean stop, `strata consume` shows every accepted record, with
#     its bytes unchanged, in the partition kafka-python's murmur2 picks for
#     its key, and nothing from the rejected batches.
#
# usage: ingest.sh STRATA
set -euo pipefail
strata=${1:?usage: ingest.sh STRATA}
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$work/ingest.yaml" <<EOF
data: {dir: $work/data}
store: {url: "sqlite:$work/data/strata.db"}
broker: {enabled: false}
http: {listen: "127.0.0.1:8080", max_body_bytes: 64KiB}
topics:
  - {name: orders, partitions: 3, flush: never, schema: order}
  - {name: raw, partitions: 2, flush: always}
schemas:
  - name: order
    fields:
      - {name: id, type: int, required: true}
      - {name: customer, type: string, required: true, max_length: 20}
      - {name: amount, type: float, required: true, min: 0}
      - {name: status, type: string, enum: [new, paid, shipped]}
      - {name: ts, type: timestamp, format: iso8601}
    rules:
      - name: big_orders_paid
        check: "amount < 1000 or status = 'paid'"
        message: orders of 1000 or more must be paid
pipelines:
  - name: orders_table
    kind: table
    topic: orders
    table: orders
    primary_key: [id]
    commit: {interval: 20ms}
EOF

# --http-listen overrides http.listen.
"$strata" up -c "$work/ingest.yaml" --http-listen 127.0.0.1:0 >"$work/up.out" 2>"$work/up.err" &
pid=$!
for _ in $(seq 100); do grep -q '^strata http listening on' "$work/up.out" && break; sleep 0.1; done
port=$(sed -n 's/^strata http listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/up.out")
[ -n "$port" ] || { cat "$work/up.out" "$work/up.err" >&2; fail "strata up did not start HTTP"; }
[ "$port" != 8080 ] || fail "--http-listen did not override http.listen"

/usr/bin/python3 - "$port" "$work" <<'PY'
import json, sqlite3, sys, time, urllib.error, urllib.request

port, work = sys.argv[1], sys.argv[2]
base = f"http://127.0.0.1:{port}"

def call(method, path, body=None, ctype="application/json", headers=None):
    h = dict(headers or {})
    if ctype is not None:
        h["Content-Type"] = ctype
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw, hdrs = r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        status, raw, hdrs = e.code, e.read(), e.headers
    doc = json.loads(raw) if raw and hdrs.get("Content-Type", "").startswith("application/json") else raw
    return status, doc, hdrs

def expect(what, got, want):
    if got != want:
        sys.exit(f"FAIL: {what}: got {got!r}, want {want!r}")

accepted = []  # (topic, key or None, value bytes) of every accepted record
offsets = {}   # (topic, partition) -> next expected base offset

def check_offsets(topic, doc, n):
    expect(f"{topic} record count", doc["records"], n)
    expect(f"{topic} counts add up", sum(b["count"] for b in doc["offsets"]), n)
    for b in doc["offsets"]:
        key = (topic, b["partition"])
        expect(f"{topic}-{b['partition']} base offset", b["base_offset"], offsets.get(key, 0))
        offsets[key] = b["base_offset"] + b["count"]

st, doc, _ = call("GET", "/healthz", ctype=None)
expect("healthz", (st, doc), (200, {"status": "ok"}))

# A JSON array keyed by customer.
customers = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
orders = [{"id": i, "customer": customers[i % 8], "amount": i * 1.5, "status": "new",
           "ts": f"2026-11-22T10:00:{i:02d}Z"} for i in range(1, 41)]
texts = [json.dumps(o, separators=(",", ":")) for o in orders]
st, doc, _ = call("POST", "/topics/orders/records?key=customer", "[" + ",\n".join(texts) + "]")
expect("array status", st, 200)
check_offsets("orders", doc, 40)
accepted += [("orders", o["customer"], t.encode()) for o, t in zip(orders, texts)]

# NDJSON with acks=all, blank lines and CRLF, key by a number field.
nd = [{"id": i, "customer": "zed", "amount": 10} for i in range(41, 51)]
ndtexts = [json.dumps(o) for o in nd]
st, doc, _ = call("POST", "/topics/orders/records?key=id&acks=all",
                  "\r\n".join(ndtexts[:5]) + "\n\n" + "\n".join(ndtexts[5:]) + "\n",
                  "application/x-ndjson; charset=utf-8")
expect("ndjson status", st, 200)
check_offsets("orders", doc, 10)
accepted += [("orders", str(o["id"]), t.encode()) for o, t in zip(nd, ndtexts)]

# A batch with bad records: 422, per-record errors, nothing written.
bad = ['{"id": 100, "customer": "ok", "amount": 1}',
       '{"id": "x", "customer": "bob", "amount": 7}',
       '[1, 2]',
       '{"id": 101, "customer": "c", "amount": 5000}',
       '{"id": 102, "customer": "c", "amount": 1, "status": "lost"}',
       '{"id": 103, "amount": 1}',
       '{"id": 104, "customer": "c", "amount": -1}',
       '{"id": 105, "customer": {"no": 1}, "amount": 1}']
st, doc, _ = call("POST", "/topics/orders/records?key=customer", "\n".join(bad) + "\n",
                  "application/x-ndjson")
expect("bad batch status", st, 422)
expect("bad batch error_count", doc["error_count"], 7)
got = [(e["index"], e["line"], e["kind"], e["field"]) for e in doc["errors"]]
expect("bad batch errors", got, [
    (1, 2, "type", "id"), (2, 3, "not_object", None), (3, 4, "rule", None),
    (4, 5, "check", "status"), (5, 6, "required", "customer"), (6, 7, "check", "amount"),
    (7, 8, "key", "customer")])
if "orders of 1000 or more must be paid" not in doc["errors"][2]["reason"]:
    sys.exit(f"FAIL: the rule's message is missing: {doc['errors'][2]}")

# Invalid JSON: 400 with where.
st, doc, _ = call("POST", "/topics/orders/records", '[{"id": 1, "customer": "a", "amount": 1},\n {"id" 2}]')
expect("bad json status", st, 400)
expect("bad json where", (doc["line"], doc["column"], doc["offset"]), (2, 8, 49))

# The body cap (64 KiB): 413, and nothing written.
big = "[" + ",".join(['{"id": 1, "customer": "x", "amount": 1}'] * 2000) + "]"
st, doc, _ = call("POST", "/topics/orders/records", big)
expect("oversized status", st, 413)

st, doc, _ = call("POST", "/topics/nope/records", "[]")
expect("unknown topic", (st, doc["error"]), (404, "topic nope does not exist"))
st, doc, _ = call("POST", "/topics/orders/records", "[]", "text/plain")
expect("wrong content type", st, 415)
st, doc, _ = call("POST", "/topics/orders/records", "[]", None)
expect("no content type", st, 415)
st, doc, hdrs = call("GET", "/topics/orders/records", ctype=None)
expect("GET on the route", (st, hdrs["Allow"]), (405, "POST"))
st, doc, _ = call("POST", "/topics/orders/records?acks=2", "[]")
expect("bad acks", st, 400)
st, doc, _ = call("POST", "/topics/orders/records?partition=3", "[]")
expect("partition out of range", st, 400)
st, doc, _ = call("POST", "/topics/__consumer_offsets/records", "[]")
expect("internal topic", st, 403)
st, doc, _ = call("POST", "/topics/orders/records", "[]")
expect("empty array", (st, doc), (200, {"topic": "orders", "records": 0, "offsets": []}))

# The schemaless topic: any object; partition= and acks=0.
st, doc, _ = call("POST", "/topics/raw/records?partition=1", '{"anything": [1, {"x": null}]}')
expect("raw single object", st, 200)
expect("raw partition", doc["offsets"], [{"partition": 1, "base_offset": 0, "count": 1}])
accepted.append(("raw", None, b'{"anything": [1, {"x": null}]}'))
st, doc, _ = call("POST", "/topics/raw/records?acks=0&partition=0", '{"n": 1}\n{"n": 2}', "application/x-ndjson")
expect("acks=0", (st, doc), (202, {"topic": "raw", "records": 2}))
accepted += [("raw", None, b'{"n": 1}'), ("raw", None, b'{"n": 2}')]
st, doc, _ = call("POST", "/topics/raw/records", '"just a string"')
expect("raw non-object", (st, doc["errors"][0]["kind"]), (422, "not_object"))

# Concurrent clients: 4 threads x 25 requests of 10 keyed records each.
import threading
lock = threading.Lock()
problems = []
def client(t):
    for r in range(25):
        recs = [json.dumps({"k": f"t{t}-{j % 3}", "n": r * 10 + j}) for j in range(10)]
        st, doc, _ = call("POST", "/topics/raw/records?key=k", "\n".join(recs), "application/x-ndjson")
        with lock:
            if st != 200 or doc["records"] != 10:
                problems.append((st, doc))
            accepted.extend(("raw", json.loads(x)["k"], x.encode()) for x in recs)
threads = [threading.Thread(target=client, args=(t,)) for t in range(4)]
for t in threads: t.start()
for t in threads: t.join()
expect("concurrent posts", problems, [])

# The table pipeline: the 50 accepted orders, nothing else.
ids = set(range(1, 51))
for _ in range(200):
    try:
        db = sqlite3.connect(f"file:{work}/data/strata.db?mode=ro", uri=True)
        rows = {r[0] for r in db.execute("select id from orders")}
        db.close()
    except sqlite3.OperationalError:
        rows = set()
    if rows == ids:
        break
    time.sleep(0.1)
expect("table rows", sorted(rows), sorted(ids))
json.dump([[t, k, v.decode()] for t, k, v in accepted], open(f"{work}/accepted.json", "w"))
PY

kill -TERM "$pid"
wait "$pid" || fail "strata up exited $?"
pid=

# Every accepted record, unchanged, in the partition its key hashes to.
for topic in orders raw; do
  parts=$([ $topic = orders ] && echo "0 1 2" || echo "0 1")
  for p in $parts; do
    "$strata" consume "$topic" --partition "$p" --from-beginning --keys --data "$work/data" \
      >"$work/$topic-$p.tsv"
  done
done
/usr/bin/python3 - "$work" <<'PY'
import json, sys
from kafka.partitioner.default import murmur2
work = sys.argv[1]
accepted = json.load(open(f"{work}/accepted.json"))
seen = []
for topic, n in (("orders", 3), ("raw", 2)):
    for p in range(n):
        for line in open(f"{work}/{topic}-{p}.tsv", encoding="utf-8"):
            key, value = line.rstrip("\n").split("\t", 1)
            seen.append((topic, p, key, value))
# A null key prints as nothing.
want = sorted((t, k or "", v) for t, k, v in accepted)
got = sorted((t, k, v) for t, p, k, v in seen)
if got != want:
    sys.exit(f"FAIL: topic contents differ: {len(got)} records, want {len(want)}")
for topic, p, key, value in seen:
    if key != "":
        exp = (murmur2(key.encode()) & 0x7FFFFFFF) % (3 if topic == "orders" else 2)
        if p != exp:
            sys.exit(f"FAIL: key {key} in partition {p}, murmur2 says {exp}")
print(f"ok: {len(seen)} records in place")
PY
echo "ingest: ok"
