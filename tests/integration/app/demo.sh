#!/usr/bin/env bash
# `strata demo`: the built-in config is valid, and the whole platform comes
# up from it: the banner names the dashboard and the Kafka bootstrap
# address, the dashboard and the API answer, every pipeline runs and is
# fed by the generators (the views fill), the broker serves the topics to
# kcat, and SIGTERM stops it all cleanly.
#
# usage: demo.sh STRATA
set -euo pipefail
strata=$1
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
py=/usr/bin/python3
fail() { echo "FAIL: $*"; [ -f "$work/out" ] && cat "$work/out" "$work/err"; exit 1; }

"$strata" demo --print-config >"$work/demo.yaml"
STRATA_DEMO_DIR=$work/check "$strata" check -c "$work/demo.yaml" | grep -q '^ok: 6 topics, 6 schemas, 12 pipelines' ||
  fail "the built-in config does not check"

export STRATA_DEMO_DIR=$work/data STRATA_DEMO_STORE=sqlite:$work/data/strata.db
"$strata" demo --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 300); do grep -q '^Stop with Ctrl-C' "$work/out" && break; sleep 0.1; done
grep -q '^Stop with Ctrl-C' "$work/out" || fail "no banner"
dash=$(sed -n -E 's/^  dashboard +(http:[^ ]+)$/\1/p' "$work/out")
boot=$(sed -n -E 's/^  Kafka bootstrap +([^ ]+)$/\1/p' "$work/out")
[ -n "$dash" ] && [ -n "$boot" ] || fail "the banner lacks the dashboard URL or the bootstrap address"

$py - "$dash" <<'PY' || fail "the dashboard or the API"
import json, sys, time, urllib.request
base = sys.argv[1].rstrip("/")
get = lambda p: urllib.request.urlopen(base + p, timeout=10)
assert get("/").status == 200
deadline = time.time() + 60
while True:
    pipes = json.load(get("/api/pipelines"))
    pipes = pipes.get("pipelines", pipes) if isinstance(pipes, dict) else pipes
    views = json.load(get("/api/views/stocks_ohlc_1m"))
    rows = views.get("rows", views) if isinstance(views, dict) else views
    busy = [p for p in pipes if p.get("records", 0) > 0]
    if len(pipes) == 12 and all(p.get("state") == "running" for p in pipes) and rows and len(busy) >= 8:
        break
    if time.time() > deadline:
        sys.exit(f"pipelines {[(p.get('name'), p.get('state'), p.get('records')) for p in pipes]}, ohlc rows {len(rows)}")
    time.sleep(0.5)
assert get("/readyz").status == 200
metrics = get("/metrics").read().decode()
assert "strata_pipeline_records_total" in metrics
print(f"ok: 12 pipelines running, {len(busy)} fed by generators, {len(rows)} OHLC rows")
PY
kcat -b "$boot" -L -J | $py -c 'import json,sys; t={x["topic"] for x in json.load(sys.stdin)["topics"]}; sys.exit(0 if {"stocks","transactions","app_events","web_events","clicks","customers_cdc"} <= t else f"topics {t}")' ||
  fail "the broker does not list the demo topics"
echo "ok: the broker lists the demo topics"
kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?; pid=
[ "$rc" -eq 0 ] || fail "strata demo exited $rc on SIGTERM"
echo "ok: stopped cleanly"
