#!/usr/bin/env bash
# The serving API and /metrics end to end (docs/api.md, docs/metrics.md):
# `strata up` with a broker and an HTTP server on free ports
# (STRATA_HTTP_LISTEN=127.0.0.1:0, --listen 127.0.0.1:0) over a config with
# a schema'd topic and a schemaless one, table, aggregate and detect
# pipelines, and sql, recompute and import jobs. Python's urllib (a real
# HTTP client) then checks every endpoint's status codes, JSON shapes and
# values (api_check.py):
#   - records go in through POST /topics/{topic}/records and the Kafka
#     protocol (kafka-python: a binary value, a consumer group's commits);
#   - /readyz, /api/topics..., browsing records (JSON, text and base64
#     values), /api/pipelines (counts equal what went in);
#   - /api/views/{view} equals `strata views query` (speed rows, then batch
#     rows after a recompute triggered over the API), and pages;
#   - /api/tables/{table} pages through exactly the accepted orders;
#     tables outside the config's table pipelines are 404;
#   - /api/anomalies, /api/dlq and the replay of a fixed entry (once; a
#     second replay and an import's entry are 409);
#   - job triggers -> runs complete -> /api/runs/{id} shows the lineage;
#   - /metrics passes `promtool check metrics`, and its figures agree with
#     what went in (events processed = records ingested, latency histogram
#     count = records, consumer-group lag);
#   - /api/openapi.json lists what is served, /docs renders it;
#   - /readyz turns 503 when a pipeline stops, naming it.
# Then, when PostgreSQL is installed, a second `strata up` on a throwaway
# cluster: /readyz is 200, 503 naming the store while the cluster is down,
# and 200 again once it is back.
#
# usage: api.sh STRATA            (the whole test)
#        api.sh --pg STRATA       (the PostgreSQL phase, run by with_pg.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
pg_phase=false
if [ "${1:-}" = "--pg" ]; then
  pg_phase=true
  shift
fi
strata=${1:?usage: api.sh [--pg] STRATA}
py=/usr/bin/python3
command -v promtool >/dev/null || { echo "SKIP: promtool is missing (apt-get install prometheus)"; exit 77; }
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_up CONFIG [ARGS...]: runs `strata up` in the background and sets
# http_port and broker_port from what it prints.
start_up() {
  local cfg=$1
  shift
  STRATA_HTTP_LISTEN=127.0.0.1:0 "$strata" up -c "$cfg" "$@" >"$work/up.out" 2>"$work/up.err" &
  pid=$!
  for _ in $(seq 200); do grep -q '^strata http listening on' "$work/up.out" && break; sleep 0.1; done
  http_port=$(sed -n 's/^strata http listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/up.out")
  broker_port=$(sed -n 's/^strata broker listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/up.out")
  [ -n "$http_port" ] || { cat "$work/up.out" "$work/up.err" >&2; fail "strata up did not start HTTP"; }
}

stop_up() {
  kill -TERM "$pid"
  wait "$pid" || fail "strata up exited with $?"
  pid=
}

if $pg_phase; then
  cat >"$work/pg.yaml" <<EOF
data: {dir: $work/data}
store: {url: "$STRATA_TEST_PG_URL"}
broker: {enabled: false}
topics:
  - {name: events, partitions: 1, flush: never, schema: event}
schemas:
  - name: event
    fields:
      - {name: id, type: int, required: true}
pipelines:
  - {name: events_table, kind: table, topic: events, table: events_t, commit: {interval: 20ms}}
EOF
  start_up "$work/pg.yaml"
  $py "$here/api_check.py" readyz-pg "$http_port" "$STRATA_TEST_PG_SH" "$STRATA_TEST_PG_DIR"
  stop_up
  echo "api.sh --pg: ok"
  exit 0
fi

printf 'id,customer,amount,ts\n901,zoe,12.5,2026-01-01T10:03:00Z\n902,zoe,-1,2026-01-01T10:03:10Z\n903,yan,7,2026-01-01T10:03:20Z\n' \
  >"$work/import.csv"
cat >"$work/api.yaml" <<EOF
data: {dir: $work/data}
store: {url: "sqlite:$work/data/strata.db"}
broker: {listen: "127.0.0.1:9092"}
http: {listen: "127.0.0.1:8080"}
topics:
  - {name: orders, partitions: 2, flush: never, schema: order}
  - {name: payments, partitions: 1, flush: never}
schemas:
  - name: order
    fields:
      - {name: id, type: int, required: true}
      - {name: customer, type: string, required: true}
      - {name: amount, type: float, required: true, min: 0}
      - {name: ts, type: timestamp, format: iso8601, required: true}
pipelines:
  - {name: orders_table, kind: table, topic: orders, table: orders_t, primary_key: [id],
     commit: {interval: 20ms}}
  - name: spend
    kind: aggregate
    topic: orders
    key: customer
    event_time: ts
    window: {type: tumbling, size: 1m}
    watermark: {max_out_of_orderness: 0s, idle_timeout: 1h}
    view: spend_1m
    commit: {interval: 20ms}
    aggregates:
      total: sum(amount)
      n: count()
  - name: big
    kind: detect
    topic: orders
    key: customer
    event_time: ts
    commit: {interval: 20ms}
    rules:
      - {name: large, type: threshold, when: 'amount > 500', value: amount}
  - {name: payments_table, kind: table, topic: payments, schema: order, table: payments_t,
     primary_key: [id], commit: {interval: 20ms}}
jobs:
  - name: totals
    kind: sql
    sql:
      - "CREATE TABLE IF NOT EXISTS totals (n BIGINT, ds TEXT)"
      - "INSERT INTO totals SELECT COUNT(*), '{{ds}}' FROM orders_t"
  - {name: spend_batch, kind: recompute, pipeline: spend}
  - {name: imp, kind: import, path: $work/import.csv, topic: orders, key: customer, time_field: ts}
  - name: breaker
    kind: sql
    sql:
      - "DROP TABLE payments_t"
EOF

start_up "$work/api.yaml" --listen 127.0.0.1:0
[ -n "$broker_port" ] || fail "the broker did not start"
$py "$here/api_check.py" main "$http_port" "$broker_port" "$strata" "sqlite:$work/data/strata.db" \
  "$work/import.csv"
stop_up

if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
  "$here/../pg/with_pg.sh" "$0" --pg "$strata"
else
  echo "api.sh: PostgreSQL is not installed; the store-outage phase is skipped"
fi
echo "api.sh: ok"
