#!/usr/bin/env bash
# Kappa replay end to end (docs/replay.md). Generated ticks
# (tests/node/ticks.mjs gen) go through the pipelines of
# tests/integration/stream/ticks.yaml under `strata up`: half of them before
# it starts, the rest through its Kafka broker (kcat) in chunks while
# `strata replay ohlc` rebuilds view ticks_ohlc from offset 0 inside the
# running `strata up` (queued, with its progress followed) and switches to
# the new version; the last chunk comes after the switch. Meanwhile
# replay_queries.py queries the view over and over: every answer must be
# whole and of one version (never empty, the trade count never going down,
# every final row equal to DuckDB's). The
# live pipeline must survive the switch (fenced, then reopened) and take
# every later event exactly once. Then, with `strata up` stopped,
# `strata replay counts` runs in its own process. At the end every view
# equals DuckDB's recomputation with 0 mismatches, the dlq holds each
# rejected record once, and no trace of the replays' working names is left.
#
# usage: replay.sh STRATA sqlite|postgres [EVENTS] [SEED]
#   postgres: run through tests/integration/pg/with_pg.sh
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
strata=$1 backend=$2 events=${3:-60000} seed=${4:-7}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
node_dir=$root/tests/node
work=$(mktemp -d)
pid= qpid= ipid=
# shellcheck disable=SC2317  # called through the EXIT trap
cleanup() {
  stop "$ipid" TERM; stop "$qpid" TERM; stop "$pid" TERM
  rm -rf "$work"
}
trap cleanup EXIT

case $backend in
  sqlite) store=sqlite:$work/data/strata.db ;;
  postgres) store=${STRATA_TEST_PG_URL:?postgres: run through tests/integration/pg/with_pg.sh} ;;
  *) echo "usage: replay.sh STRATA sqlite|postgres [EVENTS] [SEED]" >&2; exit 2 ;;
esac
export TICKS_DATA=$work/data TICKS_STORE=$store TICKS_COMMIT=97
# Waits (up to 120 s) until pipeline $1 has committed $2 offsets in all.
wait_offsets() {
  wait_for_q 1200 "select coalesce(sum(next_offset), 0) from strata_offsets where pipeline = '$1'" "$2" ||
    { cat "$work/up.log"; exit 1; }
}

# ticks.yaml with the broker on, for the ingest while `strata up` runs.
sed 's/^  enabled: false$/  enabled: true/' "$root/tests/integration/stream/ticks.yaml" >"$work/replay.yaml"
grep -q '^  enabled: true$' "$work/replay.yaml"

node "$node_dir/ticks.mjs" gen "$work/in" "$events" 3 "$seed"
node "$node_dir/ticks.mjs" expect "$work/in" 3 "$work/expected.json"
"$strata" topics create ticks --partitions 3 --data "$TICKS_DATA" >/dev/null
total=0
for p in 0 1 2; do
  n=$(wc -l <"$work/in/p$p.ndjson")
  total=$((total + n))
  head -n $((n / 2)) "$work/in/p$p.ndjson" >"$work/first$p"
  tail -n +$((n / 2 + 1)) "$work/in/p$p.ndjson" >"$work/rest$p"
  split -n l/8 -d -a 1 "$work/rest$p" "$work/rest$p."
  "$strata" produce ticks --partition $p --data "$TICKS_DATA" <"$work/first$p" >/dev/null
done
first=$(cat "$work"/first? | wc -l)

"$strata" up -c "$work/replay.yaml" --listen 127.0.0.1:0 >"$work/up.log" 2>&1 &
pid=$!
wait_for 300 broker_port "$work/up.log" >/dev/null || { echo "FAIL: no broker"; cat "$work/up.log"; exit 1; }
port=$(broker_port "$work/up.log")
wait_offsets ohlc "$first"

# Readers and producers, both going on across the replay's switch.
/usr/bin/python3 "$here/replay_queries.py" "$strata" "$store" "$work/expected.json" ticks_ohlc trades \
  "$work/stop" >"$work/queries.log" 2>&1 &
qpid=$!
(
  for c in 0 1 2 3 4 5 6; do
    for p in 0 1 2; do
      kcat -P -b "127.0.0.1:$port" -t ticks -p $p <"$work/rest$p.$c"
    done
    sleep 0.4
  done
) >"$work/ingest.log" 2>&1 &
ipid=$!
sleep 0.6

"$strata" replay ohlc -c "$work/replay.yaml" | tee "$work/replay.log"
grep -q 'queued for the strata up running on' "$work/replay.log" ||
  { echo "FAIL: the replay did not run inside strata up"; fail=1; }
grep -q 'switched to version 2' "$work/replay.log" || { echo "FAIL: no switch"; exit 1; }

wait "$ipid" || { echo "FAIL: ingest"; cat "$work/ingest.log"; exit 1; }
ipid=
# The last chunk after the switch: the live pipeline must take it.
for p in 0 1 2; do kcat -P -b "127.0.0.1:$port" -t ticks -p $p <"$work/rest$p.7"; done
for p in ohlc counts sessions ticks_table; do wait_offsets $p "$total"; done
touch "$work/stop"
if wait "$qpid"; then cat "$work/queries.log"; else
  echo "FAIL: concurrent queries:"; cat "$work/queries.log"; fail=1
fi
qpid=
kill -TERM "$pid"
wait "$pid" || { echo "FAIL: strata up exited with an error"; fail=1; }
pid=
if grep -q 'stopped:' "$work/up.log"; then echo "FAIL: a pipeline stopped:"; cat "$work/up.log"; fail=1; fi
grep -q 'pipeline ohlc: view switched to version 2 by a replay' "$work/up.log" ||
  { echo "FAIL: the live pipeline did not reopen at the switch"; cat "$work/up.log"; fail=1; }

# No strata up now: the replay runs in this process.
"$strata" replay counts -c "$work/replay.yaml" | tee "$work/replay2.log"
grep -q 'in this process' "$work/replay2.log" || { echo "FAIL: not run in-process"; fail=1; }
grep -q 'switched to version 2' "$work/replay2.log" || { echo "FAIL: no switch of counts"; exit 1; }

node "$node_dir/ticks.mjs" check "$work/expected.json" "$strata" "$store" || fail=1
read -r invalid late_ohlc late_counts < <(node -e '
  const e = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(e.invalid, e.late.ohlc, e.late.counts)' "$work/expected.json")
for p in ohlc counts; do
  expect "$p invalid dlq rows" "$(q "select count(*) from dlq where pipeline = '$p' and kind <> 'late'")" "$invalid"
done
expect "ohlc late dlq rows" "$(q "select count(*) from dlq where pipeline = 'ohlc' and kind = 'late'")" "$late_ohlc"
expect "counts late dlq rows" "$(q "select count(*) from dlq where pipeline = 'counts' and kind = 'late'")" "$late_counts"
expect "rows of the replays' working names" \
  "$(q "select (select count(*) from dlq where pipeline like '%@v%') + (select count(*) from strata_offsets where pipeline like '%@v%')")" 0
if [ "$backend" = sqlite ]; then
  expect "version tables left" "$(q "select count(*) from sqlite_master where name glob '*__v[0-9]*'")" 0
else
  expect "version tables left" "$(q "select count(*) from pg_tables where tablename ~ '__v[0-9]+$'")" 0
fi
for v in ticks_ohlc=2 ticks_counts=2 ticks_sessions=1; do
  expect "${v%=*} version" "$(q "select version from strata_views where name = '${v%=*}'")" "${v#*=}"
done
expect "completed replay runs" "$(q "select count(*) from job_runs where job like 'replay:%' and state = 'completed'")" 2
expect "runs whose last progress is the switch" \
  "$(q "select count(*) from job_runs where job like 'replay:%' and progress like '%\"phase\":\"switched\"%'")" 2
expect "replay lineage" \
  "$(q "select count(*) from job_runs where job = 'replay:ohlc' and lineage like '%\"name\":\"ticks_ohlc\"%' and lineage like '%\"from\":0,%'")" 1
exit $fail
