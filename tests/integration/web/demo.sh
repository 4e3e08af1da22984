#!/usr/bin/env bash
# `strata demo` in a real browser: demo.mjs launches Debian's chromium
# (headless, playwright-core from tests/web) first, so that the clock
# below measures strata alone; then the demo starts on free ports with its
# data in a temporary directory, and demo.mjs gets the dashboard's address
# from the banner and checks that:
#   - Overview shows a non-zero processed and ingest throughput within
#     10 s of the demo's start (the issue's bound; the only time asserted);
#   - the view explorer draws stocks_ohlc_1m: a uPlot canvas whose series
#     has points (the chart's data-points);
#   - the Jobs page shows a run of ohlc_every_minute, triggered from the
#     page, as completed;
#   - every page loads with the demo's data, without console errors,
#     failed requests or error banners.
# A screenshot of every page goes to ARTIFACTS (printed at the end, kept
# on failure too). strata and chromium are stopped whatever happens.
#
# usage: demo.sh STRATA ARTIFACTS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
strata=${1:?usage: demo.sh STRATA ARTIFACTS}
shots=${2:?usage: demo.sh STRATA ARTIFACTS}
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
fail() { echo "FAIL: $*" >&2; echo "demo.sh: screenshots in $shots" >&2; exit 1; }
mkdir -p "$shots"
rm -f "$shots"/*.png

node "$here/demo.mjs" "$chromium" "$work" "$shots" &
node_pid=$!
for _ in $(seq 600); do [ -e "$work/browser.ready" ] && break; kill -0 "$node_pid" 2>/dev/null || break; sleep 0.1; done
[ -e "$work/browser.ready" ] || fail "chromium did not start"

unset STRATA_HTTP_TOKEN
export STRATA_DEMO_DIR=$work/data STRATA_DEMO_STORE=sqlite:$work/data/strata.db
t0=$(date +%s%3N) # ms: the demo's start, for the 10 s bound
"$strata" demo --listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 600); do grep -q '^Stop with Ctrl-C' "$work/out" && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
grep -q '^Stop with Ctrl-C' "$work/out" || { cat "$work/out" "$work/err" >&2; fail "strata demo printed no banner"; }
dash=$(sed -n -E 's/^  dashboard +(http:[^ ]+)$/\1/p' "$work/out")
[ -n "$dash" ] || { cat "$work/out" >&2; fail "the banner names no dashboard"; }
echo "demo.sh: the banner came $(( $(date +%s%3N) - t0 )) ms after the start; dashboard $dash"
echo "$dash $t0" >"$work/demo.url.tmp"
mv "$work/demo.url.tmp" "$work/demo.url"

status=0
wait "$node_pid" || status=$?
node_pid=
[ "$status" -eq 0 ] || { tail -20 "$work/err" >&2; fail "the browser checks failed (exit $status)"; }

kill -TERM "$pid"
rc=0; wait "$pid" || rc=$?; pid=
[ "$rc" -eq 0 ] || { tail -20 "$work/err" >&2; fail "strata demo exited $rc on SIGTERM"; }
echo "demo.sh: screenshots in $shots: $(cd "$shots" && ls | tr '\n' ' ')"
echo "demo.sh: ok"
