#!/usr/bin/env bash
# Exactly-once under kill -9: the ticks dataset arrives in chunks; after
# each chunk `strata up` runs and is killed with SIGKILL at a random moment,
# then restarted, CYCLES times. With a PostgreSQL store (run under
# tests/integration/pg/with_pg.sh) every fifth cycle also stops the server
# with `pg_ctl stop -m immediate` mid-run and brings it back, so the
# pipelines must pause, retry and resume. At the end every view must equal
# DuckDB's recomputation, every table row and dlq row must be there exactly
# once.
#
# usage: crash.sh STRATA sqlite|postgres [CYCLES] [EVENTS] [SEED]
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
# The HTTP server of `strata up` on a free port: tests run side by side.
export STRATA_HTTP_LISTEN=127.0.0.1:0
strata=$1 backend=$2 cycles=${3:-20} events=${4:-60000} seed=${5:-11}
here=$(cd "$(dirname "$0")" && pwd)
node_dir=$(cd "$here/../../node" && pwd)
work=$(mktemp -d)
pid=
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  stop "$pid" KILL
  rm -rf "$work"
}
trap cleanup EXIT

export TICKS_DATA=$work/data TICKS_COMMIT=97
if [ "$backend" = postgres ]; then
  : "${STRATA_TEST_PG_URL:?run under tests/integration/pg/with_pg.sh}"
  export TICKS_STORE=$STRATA_TEST_PG_URL
else
  export TICKS_STORE=sqlite:$work/data/strata.db
fi
store=$TICKS_STORE

node "$node_dir/ticks.mjs" gen "$work/in" "$events" 3 "$seed"
node "$node_dir/ticks.mjs" expect "$work/in" 3 "$work/expected.json"
"$strata" topics create ticks --partitions 3 --data "$TICKS_DATA" >/dev/null
for p in 0 1 2; do
  split -n "l/$cycles" -d -a 3 "$work/in/p$p.ndjson" "$work/in/p$p.chunk."
done

RANDOM=$seed
paused=0
for ((i = 0; i < cycles; i++)); do
  for p in 0 1 2; do
    chunk=$(printf '%s/in/p%d.chunk.%03d' "$work" "$p" "$i")
    [ -s "$chunk" ] && "$strata" produce ticks --partition $p --data "$TICKS_DATA" <"$chunk" >/dev/null
  done
  "$strata" up -c "$here/ticks.yaml" --no-broker >"$work/up.log" 2>&1 &
  pid=$!
  sleep "0.$(printf '%03d' $((20 + RANDOM % 400)))"
  if [ "$backend" = postgres ] && [ $((i % 5)) -eq 4 ]; then
    "$STRATA_TEST_PG_SH" kill "$STRATA_TEST_PG_DIR" >/dev/null
    sleep 0.3
    "$STRATA_TEST_PG_SH" restart "$STRATA_TEST_PG_DIR" >/dev/null
    sleep "0.$(printf '%03d' $((100 + RANDOM % 400)))"
  fi
  kill -9 "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  if grep -q 'store unreachable' "$work/up.log"; then paused=$((paused + 1)); fi
  if grep -q 'stopped:' "$work/up.log"; then
    echo "FAIL: cycle $i: a pipeline stopped:"; cat "$work/up.log"; exit 1
  fi
done
"$strata" up -c "$here/ticks.yaml" --once >/dev/null

node "$node_dir/ticks.mjs" check "$work/expected.json" "$strata" "$TICKS_STORE"
read -r valid invalid late_ohlc late_counts < <(node -e '
  const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(e.valid, e.invalid, e.late.ohlc, e.late.counts)' "$work/expected.json")
expect "table rows" "$(q 'select count(*) from ticks')" "$valid"
expect "distinct table rows" "$(q "select count(distinct _partition || ':' || _offset) from ticks")" "$valid"
for p in ohlc counts sessions ticks_table; do
  expect "$p invalid dlq rows" "$(q "select count(*) from dlq where pipeline = '$p' and kind <> 'late'")" "$invalid"
done
expect "ohlc late dlq rows" "$(q "select count(*) from dlq where pipeline = 'ohlc' and kind = 'late'")" "$late_ohlc"
expect "counts late dlq rows" "$(q "select count(*) from dlq where pipeline = 'counts' and kind = 'late'")" "$late_counts"
if [ "$backend" = postgres ]; then
  # The server stops must have been noticed (and survived) by the pipelines.
  if [ "$paused" -lt 1 ]; then echo "FAIL: no cycle saw the store go away"; fail=1
  else echo "ok: $paused cycles paused for the store and resumed"; fi
fi
exit $fail
