#!/usr/bin/env bash
# The dashboard in a real browser (docs/dashboard.md): `strata up` over a
# stocks-like config (a topic, a schema, a table, an aggregate view, a
# detect rule and a sql job), with its HTTP server on a free port and no
# broker; then dashboard.mjs drives Debian's chromium, headless, with
# playwright-core (tests/web) through every page:
#   - the embedded files are served with their types, ETags and 304s;
#   - Overview's charts are drawn (uPlot canvases of non-zero size) and its
#     record count follows what is ingested, without a reload;
#   - topics, pipelines, the view explorer (keys listed, charts drawn,
#     windows added live), anomalies, the dlq and the jobs grid (a run
#     triggered from the page turns up as a completed cell) show what the
#     API holds, and update as records go in;
#   - no console error, page error or failed request on the way.
# With --token the same runs against a server with an access token
# (STRATA_HTTP_TOKEN): nothing but /healthz answers without it, the
# browser signs in on the sign-in page (a wrong token is refused there),
# every page then works as without a token, and signing out asks for the
# token again.
# strata and the browser are stopped whatever happens.
#
# usage: dashboard.sh STRATA [--token]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
strata=${1:?usage: dashboard.sh STRATA [--token]}
unset STRATA_HTTP_TOKEN STRATA_WEB_TOKEN
if [ "${2:-}" = "--token" ]; then
  STRATA_HTTP_TOKEN=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  export STRATA_HTTP_TOKEN STRATA_WEB_TOKEN=$STRATA_HTTP_TOKEN
fi
chromium=${STRATA_CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || { echo "SKIP: $chromium is missing (apt-get install chromium)"; exit 77; }
[ -f "$root/tests/web/node_modules/playwright-core/package.json" ] ||
  { echo "SKIP: playwright-core is missing (npm install in tests/web)"; exit 77; }

work=$(mktemp -d)
pid=
node_pid=
cleanup() {
  if [ -n "$node_pid" ]; then kill -TERM "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  if [ -s "$work/chromium.pid" ]; then kill -9 "$(cat "$work/chromium.pid")" 2>/dev/null || true; fi
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat >"$work/web.yaml" <<EOF
data: {dir: $work/data}
store: {url: "sqlite:$work/data/strata.db"}
broker: {enabled: false}
topics:
  # No schema on the topic: ingest takes any object, and the pipelines'
  # schema sends the bad ticks to the dlq.
  - {name: stocks, partitions: 2, flush: never}
schemas:
  - name: stock_tick
    fields:
      - {name: symbol, type: string, required: true}
      - {name: price, type: float, required: true, min: 0}
      - {name: volume, type: int, required: true, min: 0}
      - {name: ts, type: timestamp, format: iso8601, required: true}
pipelines:
  - {name: ticks_table, kind: table, topic: stocks, schema: stock_tick, table: ticks_t,
     commit: {interval: 20ms}}
  - name: ohlc_1m
    kind: aggregate
    topic: stocks
    schema: stock_tick
    key: symbol
    event_time: ts
    window: {type: tumbling, size: 1m}
    watermark: {max_out_of_orderness: 0s, idle_timeout: 1h}
    emit: update
    view: stocks_ohlc_1m
    commit: {interval: 20ms}
    aggregates:
      close: last(price)
      volume: sum(volume)
      trades: count()
  - name: spikes
    kind: detect
    topic: stocks
    schema: stock_tick
    key: symbol
    event_time: ts
    commit: {interval: 20ms}
    rules:
      - {name: huge_volume, type: threshold, when: 'volume > 100000', value: volume}
jobs:
  - name: tick_count
    kind: sql
    sql:
      - "CREATE TABLE IF NOT EXISTS tick_counts (n BIGINT, ds TEXT)"
      - "INSERT INTO tick_counts SELECT COUNT(*), '{{ds}}' FROM ticks_t"
EOF

STRATA_HTTP_LISTEN=127.0.0.1:0 "$strata" up -c "$work/web.yaml" --no-broker >"$work/up.out" 2>"$work/up.err" &
pid=$!
for _ in $(seq 200); do grep -q '^strata http listening on' "$work/up.out" && break; sleep 0.1; done
http_port=$(sed -n 's/^strata http listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$work/up.out")
[ -n "$http_port" ] || { cat "$work/up.out" "$work/up.err" >&2; fail "strata up did not start HTTP"; }

node "$here/dashboard.mjs" "http://127.0.0.1:$http_port" "$chromium" "$work" &
node_pid=$!
status=0
wait "$node_pid" || status=$?
node_pid=
[ "$status" -eq 0 ] || { tail -20 "$work/up.err" >&2; fail "the browser checks failed (exit $status)"; }

kill -TERM "$pid"
wait "$pid" || fail "strata up exited with $?"
pid=
if [ -n "${STRATA_HTTP_TOKEN:-}" ] && grep -qF "$STRATA_HTTP_TOKEN" "$work/up.out" "$work/up.err"; then
  fail "strata printed the access token"
fi
echo "dashboard.sh: ok"
